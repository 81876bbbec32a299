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
        # global norm only.
        self.layers: list[str] = []
        self._groups: list[list[slice]] = []  # a layer's weight tensors (lstm: input and recurrent)
        rest = np.ones(store.flat.size, dtype=bool)
        base = store.grad.__array_interface__["data"][0]
        item = store.grad.itemsize
        for node in graph.nodes:
            for p in node.params.values():
                if p.regularized and p.trainable and p.name in store.grads:
                    start = (store.grads[p.name].__array_interface__["data"][0] - base) // item
                    if node.layer not in self.layers:
                        self.layers.append(node.layer)
                        self._groups.append([])
                    self._groups[self.layers.index(node.layer)].append(slice(start, start + p.size))
                    rest[start : start + p.size] = False
        self._rest = np.flatnonzero(rest) if rest.any() else None
        self._grad = store.grad
        self._sums = np.zeros(len(self.layers) + 1)  # per layer, then global
        self._steps = 0
        self.history: list[dict] = []
        self._warned_overflow = self._warned_vanishing = False

    def record(self) -> str | None:
        """Accumulate this step's norms; returns a warning the first time the global norm
        overflows (None otherwise)."""
        g = self._grad
        sq = [sum(float(np.dot(g[s], g[s])) for s in group) for group in self._groups]
        total = sum(sq)
        if self._rest is not None:
            r = g[self._rest]
            total += float(np.dot(r, r))
        self._sums[:-1] += np.sqrt(sq)
        self._sums[-1] += math.sqrt(total) if math.isfinite(total) else math.inf
        self._steps += 1
        if not math.isfinite(total) and not self._warned_overflow:
            self._warned_overflow = True
            return ("the global gradient norm overflowed (inf or NaN): lower the learning rate, "
                    "set train.clip_norm or standardize the inputs")  # fmt: skip
        return None

    def end_epoch(self, epoch: int) -> str | None:
        """Close the epoch's row (means over its steps); returns a warning the first time the
        first layer's norm falls below 1e-6 of the last layer's (vanishing gradients)."""
        means = self._sums / max(self._steps, 1)
        row = {"epoch": epoch, "global": float(means[-1])}
        row.update({name: float(v) for name, v in zip(self.layers, means[:-1])})
        self.history.append(row)
        self._sums[:] = 0
        self._steps = 0
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
