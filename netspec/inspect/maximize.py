"""Activation maximization: the input that makes a unit fire most, found by gradient ascent on
    objective(x) = unit(x) - l2 * ||x||^2
from a seeded random start (the lecture's method for layers above the first, whose weights are
not images). Each step moves along the gradient scaled to unit RMS, so the step size means the
same for every layer."""

from __future__ import annotations

import numpy as np

from ..errors import NetspecError
from .activations import backprop_to_input, check_layer


def maximize(model, layer: str, units: list[int], steps: int = 100, lr: float = 0.1, l2: float = 0.01,
             seed: int = 0) -> np.ndarray:  # fmt: skip
    """(len(units), *input shape) inputs, in the network's input space (standardized)."""
    plan = model.plan
    check_layer(plan, layer)
    shape = model.graph.input_shape[1:]
    if not all(isinstance(d, int) for d in shape):
        raise NetspecError(f"activation maximization needs a fixed input shape, got {tuple(shape)}")
    if model.graph.input_dtype == "int64":
        raise NetspecError("the input holds token ids: there is no input gradient to ascend")
    features_last = model.graph.node(layer).features_last
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.1, (len(units), *shape)).astype(plan.dtype)
    units_arr = np.asarray(units)

    def seed_dy(y: np.ndarray) -> np.ndarray:
        n = y.shape[-1] if features_last else y.shape[1]
        if units_arr.min() < 0 or units_arr.max() >= n:
            raise NetspecError(f"units {units} are out of range: layer {layer!r} has {n} units (0..{n - 1})")
        dy = np.zeros_like(y)
        rows = np.arange(len(y))
        if features_last:
            dy[rows, ..., units_arr] = 1.0
        else:
            dy[rows, units_arr] = 1.0 / max(1, int(np.prod(y.shape[2:])))
        return dy

    for _ in range(steps):
        g = backprop_to_input(plan, x, layer, seed_dy) - 2 * l2 * x
        rms = np.sqrt((g.reshape(len(g), -1) ** 2).mean(axis=1)).reshape(-1, *[1] * len(shape))
        x += lr * g / (rms + 1e-12)
    return x
