"""Parameter storage: every trainable parameter is a view into ONE flat buffer (and its gradient
a view into one flat gradient buffer), so optimizers, clipping and penalties are a handful of
vectorized operations per step instead of a Python loop over tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Param
from ..kernels.init import init_param


@dataclass
class ParamStore:
    flat: np.ndarray  # all trainable parameters
    grad: np.ndarray  # their gradients, same layout
    values: dict[str, np.ndarray]  # name -> array (views into flat for trainable ones)
    grads: dict[str, np.ndarray]  # name -> view into grad (trainable only)
    specs: dict[str, Param]
    l1: np.ndarray | None  # per-element penalty coefficients over `flat` (None when all zero)
    l2: np.ndarray | None

    @classmethod
    def create(cls, graph: Graph, dtype, rng: np.random.Generator | None, l1: float = 0.0, l2: float = 0.0) -> ParamStore:
        specs = {p.name: p for p in graph.params}
        trainable = [p for p in specs.values() if p.trainable]
        total = sum(p.size for p in trainable)
        flat = np.zeros(total, dtype=dtype)
        grad = np.zeros(total, dtype=dtype)
        values: dict[str, np.ndarray] = {}
        grads: dict[str, np.ndarray] = {}
        c1 = np.zeros(total, dtype=dtype)
        c2 = np.zeros(total, dtype=dtype)
        offset = 0
        for p in trainable:
            sl = slice(offset, offset + p.size)
            values[p.name] = flat[sl].reshape(p.shape)
            grads[p.name] = grad[sl].reshape(p.shape)
            if p.regularized:
                c1[sl] = l1 + p.l1
                c2[sl] = l2 + p.l2
            offset += p.size
        for p in specs.values():
            if not p.trainable:
                values[p.name] = np.zeros(p.shape, dtype=dtype)
        store = cls(flat, grad, values, grads, specs, c1 if c1.any() else None, c2 if c2.any() else None)
        if rng is not None:
            store.initialize(rng)
        return store

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw every parameter in graph order (deterministic for a given generator)."""
        for name, p in self.specs.items():
            self.values[name][...] = init_param(p, rng, self.flat.dtype)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(v) for name, v in self.values.items()}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        for name, arr in arrays.items():
            self.values[name][...] = arr

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: v.copy() for name, v in self.values.items()}
