"""Batch layout shared by the rnn and lstm kernels: time-major, sorted by length.

The kernels run over time-major buffers (time, batch, features), so each step reads and writes
contiguous (batch, features) slices. With per-sample lengths, the batch is sorted by length,
longest first (a stable sort, as `pack_padded_sequence` does): the samples still running at step
t are then the prefix [:counts[t]] of the batch, so each step's GEMM and elementwise work only
touch real rows, and padded steps are never computed at all. That gives the contract of the spec
language for free:

- padded steps change neither the state nor the gradients (they are not computed);
- outputs at padded steps are exactly zero (`return_sequences = true`), as onnxruntime writes;
- the many-to-one output is the state at each sample's last real step.

`Layout` records the permutation and the per-step counts; `time_major` / `batch_major` convert
between the executor's (batch, time, features) tensors and the kernels' sorted time-major
buffers. Steps past the longest sequence (`t_eff`) are skipped entirely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    batch: int
    steps: int  # T of the padded input
    t_eff: int  # steps with at least one real sample
    counts: tuple[int, ...]  # rows still running at each step t < t_eff (a prefix, sorted order)
    order: np.ndarray | None  # sorted row -> sample index; None: already in order
    lengths: np.ndarray | None  # lengths in sorted order; None: every step is real

    @property
    def padded(self) -> bool:
        return self.lengths is not None


def make_layout(lengths, batch: int, steps: int) -> Layout:
    """The layout for `lengths` ((batch,) ints in [0, steps], or None: all steps real)."""
    if lengths is None:
        return Layout(batch, steps, steps, (batch,) * steps, None, None)
    lens = np.asarray(lengths)
    if lens.shape != (batch,) or (lens.size and lens.dtype.kind not in "iu"):
        raise ValueError(
            f"sequence lengths must be a ({batch},) integer array (one per sample), "
            f"got shape {lens.shape} and dtype {lens.dtype}"
        )
    if lens.size and (lens.min() < 0 or lens.max() > steps):
        raise ValueError(
            f"sequence lengths must lie in [0, {steps}] (the padded time axis), "
            f"got values from {lens.min()} to {lens.max()}"
        )
    lens = lens.astype(np.int64, copy=False)
    if batch == 0 or bool(np.all(lens == steps)):
        return Layout(batch, steps, steps, (batch,) * steps, None, None)
    order = None
    if not bool(np.all(lens[:-1] >= lens[1:])):
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
    t_eff = int(lens[0])
    # counts[t] = number of samples with length > t = batch - number with length <= t
    finished = np.searchsorted(lens[::-1], np.arange(t_eff), side="right")
    counts = tuple(int(c) for c in batch - finished)
    return Layout(batch, steps, t_eff, counts, order, lens)


def time_major(x: np.ndarray, lay: Layout, zero_padded: bool = True) -> np.ndarray:
    """(batch, time, F) -> contiguous (t_eff, batch, F) in sorted order. Padded entries are set
    to zero (unless zero_padded is False), so whatever the padding holds (even NaN) never
    reaches a product."""
    xs = x[:, : lay.t_eff] if lay.order is None else x[lay.order, : lay.t_eff]
    out = np.ascontiguousarray(xs.transpose(1, 0, 2))
    if zero_padded and lay.padded:
        for t, n in enumerate(lay.counts):
            if n < lay.batch:
                out[t, n:] = 0
    return out


def batch_major(y: np.ndarray, lay: Layout) -> np.ndarray:
    """Contiguous (t_eff, batch, F) in sorted order -> new (batch, time, F) in sample order,
    zeros past t_eff. Rows of `y` at padded steps must already be zero."""
    f = y.shape[2]
    if lay.t_eff == lay.steps:
        out = np.empty((lay.batch, lay.steps, f), dtype=y.dtype)
    else:
        out = np.zeros((lay.batch, lay.steps, f), dtype=y.dtype)
    src = y.transpose(1, 0, 2)
    if lay.order is None:
        out[:, : lay.t_eff] = src
    else:
        out[lay.order, : lay.t_eff] = src
    return out


def last_state(states: np.ndarray, lay: Layout) -> np.ndarray:
    """states (t_eff + 1, batch, H), states[0] the initial state -> (batch, H): each sample's
    state after its last real step, in sample order."""
    if lay.lengths is None:
        return states[lay.t_eff].copy()
    last = states[lay.lengths, np.arange(lay.batch)]
    if lay.order is None:
        return last
    out = np.empty_like(last)
    out[lay.order] = last
    return out


def running(lay: Layout) -> np.ndarray:
    """(t_eff, batch) bool: True where sorted column j is still running at step t (j <
    counts[t], i.e. t < its length). Row-major, it is the order of packed per-step data."""
    return np.arange(lay.batch)[None, :] < np.asarray(lay.counts, dtype=np.int64)[:, None]


def sorted_rows(a: np.ndarray, lay: Layout) -> np.ndarray:
    """(batch, F) in sample order -> a new contiguous array in sorted order."""
    return np.array(a, order="C") if lay.order is None else a[lay.order]


def zero_padded_rows(buf: np.ndarray, lay: Layout) -> None:
    """Zero the rows of a (t_eff, batch, F) buffer at padded steps."""
    if lay.padded:
        for t, n in enumerate(lay.counts):
            if n < lay.batch:
                buf[t, n:] = 0


def unsorted_rows(a: np.ndarray, lay: Layout) -> np.ndarray:
    """(batch, F) in sorted order -> a new array in sample order (the inverse of sorted_rows)."""
    if lay.order is None:
        return np.array(a, order="C")
    out = np.empty_like(a)
    out[lay.order] = a
    return out
