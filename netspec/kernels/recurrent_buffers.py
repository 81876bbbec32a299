"""A small pool of scratch buffers for the recurrent kernels.

Why: the per-batch work buffers of an lstm (gates, states, gradients of all steps) are ~1-3 MB
each. Fresh allocations of that size are mmapped by the C allocator and every first touch of a
page faults: measured here, those faults cost more than the arithmetic (about 1 ms per MB
on a loaded 2-core machine). Reusing the buffers from one batch to the next removes them.

`take(shape, dtype)` hands out a C-contiguous array (contents undefined, or zeros with
zero=True) that nobody else holds; `give(*arrays)` returns arrays that are no longer read. A
kernel gives back only its own scratch buffers, never an array it returned to the executor.
The pool keeps at most MAX_BUFFERS arrays and MAX_BYTES in total (oldest dropped first), so
varying shapes (variable sequence lengths) cannot make it grow without bound.
"""

from __future__ import annotations

import numpy as np

MAX_BUFFERS = 24
MAX_BYTES = 256 * 2**20

_free: list[np.ndarray] = []  # flat base arrays, most recently returned last


def take(shape: tuple[int, ...], dtype, zero: bool = False) -> np.ndarray:
    dtype = np.dtype(dtype)
    n = 1
    for d in shape:
        n *= d
    best = -1
    for k, buf in enumerate(_free):  # the smallest free buffer that fits (within 2x)
        if buf.dtype == dtype and n <= buf.size <= 2 * n + 4096:
            if best < 0 or buf.size < _free[best].size:
                best = k
    if best < 0:  # flat, so that give() recognises its base
        return (np.zeros if zero else np.empty)(n, dtype).reshape(shape)
    out = _free.pop(best)[:n].reshape(shape)
    if zero:
        out.fill(0)
    return out


def give(*arrays: np.ndarray) -> None:
    for a in arrays:
        base = a if a.base is None else a.base  # numpy collapses view chains to the owner
        if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous or any(base is b for b in _free):
            continue  # not a pool-shaped base (e.g. a view of something else): let it go
        _free.append(base)
    while len(_free) > MAX_BUFFERS or sum(b.nbytes for b in _free) > MAX_BYTES:
        _free.pop(0)
