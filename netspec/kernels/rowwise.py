"""Reductions over the last axis of (rows, classes) arrays, as softmax and its loss need, and
over the rows or all but the channel axis, as bias gradients and batch_norm need.

numpy reduces a short inner axis one row at a time (measured, 256 x 10 float32, 1 thread:
`x.max(axis=1)` 14.5 us, `x.sum(axis=1)` 4.7 us). A max over the columns of the transposed
copy runs as one vectorised loop (2.1 us incl. the copy), and a row sum is a GEMV with a ones
vector (1.1 us). For wide rows the plain reduction is already fast, so max switches back.
"""

from __future__ import annotations

import numpy as np

NARROW = 64  # up to this many columns, max via the transposed copy


def row_max(x: np.ndarray) -> np.ndarray:
    """(..., c) -> (..., 1) maximum over the last axis."""
    x2 = x.reshape(-1, x.shape[-1])
    if x2.shape[1] <= NARROW and x2.shape[0] > 1:
        m = np.ascontiguousarray(x2.T).max(axis=0)
    else:
        m = x2.max(axis=1)
    return m.reshape(*x.shape[:-1], 1)


def row_sum(x: np.ndarray) -> np.ndarray:
    """(..., c) -> (..., 1) sum over the last axis (a GEMV for floating arrays)."""
    if x.dtype.kind != "f" or x.shape[-1] == 0:
        return x.sum(axis=-1, keepdims=True)
    return (x @ np.ones(x.shape[-1], dtype=x.dtype))[..., None]


def col_sum(x2: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(rows, c) -> out (c,): the sum over the rows, as a GEMV with a ones vector (measured,
    float32, 1 thread: 64 x 256 1.6 us vs np.sum(axis=0) 4.4 us, 256 x 10 1.3 vs 5.9 us)."""
    if x2.dtype.kind != "f":
        return np.sum(x2, axis=0, out=out)
    return np.matmul(np.ones(x2.shape[0], dtype=x2.dtype), x2, out=out)


def channel_sum(x3: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(n, C, positions) -> out (C,): per-sample GEMVs with ones, then col_sum (measured,
    float32, 64 x 32 x 196: ~4x faster than np.sum over axes (0, 2))."""
    if x3.dtype.kind != "f":
        return np.sum(x3, axis=(0, 2), out=out)
    return col_sum(x3 @ np.ones(x3.shape[2], dtype=x3.dtype), out)
