"""Gradient-norm recording: the global gradient norm (before clipping) and each layer's
weight-gradient norm, averaged over an epoch's steps.

The training loop calls `record()` once per step, after the penalties are added and before
clipping, and `end_epoch()` once per epoch. It only reads the gradient buffer, so training with
and without recording gives bit-identical weights. Cost per step: one dot product per weight
tensor (the global norm is the sum of their squares plus the non-weight parameters').
"""

from __future__ import annotations

import math

import numpy as np

VANISHING_RATIO = 1e-6  # first layer's norm below this fraction of the last layer's: warn


class GradientRecorder:
    def __init__(self, graph, store):
        # The weights of dense, conv, rnn, lstm and embedding layers, grouped by layer in graph
        # order; the rest of the buffer (biases, batch-norm scale and shift) counts toward the
        # global norm only. Every piece is a view of the gradient buffer, made once.
        self.layers: list[str] = []
        owner: list[int] = []  # per view: index into self.layers, or -1 for the rest
        self._views: list[np.ndarray] = []
        rest = np.ones(store.flat.size, dtype=bool)
        base = store.grad.__array_interface__["data"][0]
        for node in graph.nodes:
            for p in node.params.values():
                if p.regularized and p.trainable and p.name in store.grads:
                    start = (store.grads[p.name].__array_interface__["data"][0] - base) // store.grad.itemsize
                    if node.layer not in self.layers:
                        self.layers.append(node.layer)
                    owner.append(self.layers.index(node.layer))
                    self._views.append(store.grad[start : start + p.size])
                    rest[start : start + p.size] = False
        edges = np.flatnonzero(np.diff(np.concatenate(([0], rest.view(np.int8), [0]))))
        for a, b in zip(edges[::2], edges[1::2]):  # contiguous runs of the rest
            owner.append(-1)
            self._views.append(store.grad[a:b])
        # (layers + 1, views): sums a step's squared pieces into per-layer and global squares
        self._combine = np.zeros((len(self.layers) + 1, len(owner)))
        for k, o in enumerate(owner):
            if o >= 0:
                self._combine[o, k] = 1.0
        self._combine[-1, :] = 1.0
        self._squares: list[list[float]] = []  # this epoch's steps
        self.history: list[dict] = []
        self._warned_overflow = self._warned_vanishing = False

    def record(self) -> str | None:
        """Keep this step's squared norms (one dot product per piece: the whole per-step cost);
        returns a warning the first time the global norm overflows (None otherwise)."""
        sq = [float(v.dot(v)) for v in self._views]
        self._squares.append(sq)
        if not self._warned_overflow and not math.isfinite(sum(sq)):
            self._warned_overflow = True
            return ("the global gradient norm overflowed (inf or NaN): lower the learning rate, "
                    "set train.clip_norm or standardize the inputs")  # fmt: skip
        return None

    def end_epoch(self, epoch: int) -> str | None:
        """Close the epoch's row (means over its steps); returns a warning the first time the
        first layer's norm falls below 1e-6 of the last layer's (vanishing gradients)."""
        sq = np.array(self._squares, dtype=np.float64).reshape(-1, self._combine.shape[1])
        with np.errstate(invalid="ignore", over="ignore"):
            norms = np.sqrt(sq @ self._combine.T) if len(sq) else np.zeros((1, len(self._combine)))
        means = norms.mean(axis=0)
        row = {"epoch": epoch, "global": float(means[-1])}
        row.update({name: float(v) for name, v in zip(self.layers, means[:-1])})
        self.history.append(row)
        self._squares = []
        if self._warned_vanishing or len(self.layers) < 2:
            return None
        first, last = row[self.layers[0]], row[self.layers[-1]]
        if last > 0 and first < VANISHING_RATIO * last:
            self._warned_vanishing = True
            return (f"vanishing gradients: at epoch {epoch} the first layer's ({self.layers[0]}) "
                    f"weight-gradient norm {first:.3g} is below 1e-6 of the last layer's "
                    f"({self.layers[-1]}, {last:.3g}); try relu activations, batch_norm or "
                    "he_uniform init")  # fmt: skip
        return None
