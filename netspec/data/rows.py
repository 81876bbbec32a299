"""`Rows`: the examples of one split as an index array over the source array, read per batch.

The source may be an in-memory array or a read-only memory map of a .npy / .npz member; nothing
is copied whole. Indexing a `Rows` (a slice, an int array, an int) reads just those examples,
casts them to the training dtype and applies the per-batch transform (standardization, zeroed
padded steps), returning a fresh ndarray. Each element goes through the same operations as a
whole-array transform would, so batches are bit-identical whether the source is in memory or
mapped.

Pages of a memory map that were read count in the process's RSS until the kernel drops them:
after every READ_BUDGET bytes read, `madvise(MADV_DONTNEED)` releases them (the page cache keeps
the file; nothing is re-read from disk while memory is free), so RSS stays bounded by the budget
rather than growing to the file size.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

import numpy as np

READ_BUDGET = 256 << 20


class Rows:
    def __init__(
        self,
        source: np.ndarray,
        index: np.ndarray | None = None,
        dtype=None,
        transform: Callable[[np.ndarray, np.ndarray | slice], np.ndarray] | None = None,
    ):
        self.source = source
        self.index = index
        self.dtype = np.dtype(dtype or source.dtype)
        self.transform = transform
        n = source.shape[0] if index is None else index.shape[0]
        self.shape = (int(n), *source.shape[1:])
        self._read = 0

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def rows_of(self, sel) -> np.ndarray | slice:
        """Source row numbers for `sel` (a slice stays a slice when there is no index)."""
        if self.index is None:
            if isinstance(sel, slice):
                return sel
            sel = np.asarray(sel)
            return np.flatnonzero(sel) if sel.dtype == bool else sel.astype(np.int64, copy=False)
        return self.index[sel]

    def __iter__(self):
        for _, block in self.chunks():
            yield from block

    def __getitem__(self, sel) -> np.ndarray:
        if isinstance(sel, tuple):  # x[rows, ...]: rows first, the rest on the result
            if not sel:
                return self[:]
            head, rest = sel[0], sel[1:]
            if isinstance(head, (int, np.integer)):
                return self[head][rest]
            return self[head][(slice(None), *rest)]
        if isinstance(sel, (int, np.integer)):
            n = len(self)
            if not -n <= sel < n:
                raise IndexError(f"index {sel} is out of bounds for {n} examples")
            return self[[int(sel) % n]][0]
        rows = self.rows_of(sel)
        if isinstance(rows, np.ndarray) and rows.ndim == 1 and rows.size > 1:
            # Read in file order (sequential pages), then put back in the asked order.
            order = np.argsort(rows, kind="stable")
            block = np.asarray(self.source[rows[order]])
            out = np.empty_like(block)
            out[order] = block
        else:
            out = np.array(self.source[rows])
        self._release(out.nbytes)
        out = out.astype(self.dtype, copy=False)
        if self.transform is not None:
            out = self.transform(out, rows)
        return out

    def _release(self, nbytes: int) -> None:
        mm = getattr(self.source, "_mmap", None)
        if mm is None or not hasattr(mm, "madvise"):
            return
        self._read += nbytes
        if self._read >= READ_BUDGET:
            self._read = 0
            try:
                mm.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError, AttributeError):
                pass

    def take(self, idx: np.ndarray) -> Rows:
        index = np.asarray(idx, dtype=np.int64) if self.index is None else self.index[idx]
        return Rows(self.source, index, self.dtype, self.transform)

    def with_transform(self, transform) -> Rows:
        return Rows(self.source, self.index, self.dtype, transform)

    def chunks(self, nbytes: int = 32 << 20):
        """(start, block) pairs covering all rows in order, `nbytes` of source at a time."""
        per = max(1, int(np.prod(self.shape[1:], dtype=np.int64)) * self.source.dtype.itemsize)
        step = max(1, nbytes // per)
        for start in range(0, len(self), step):
            yield start, self[start : start + step]

    def __getattr__(self, name: str):
        # Anything else ndarray has (reshape, mean, tolist, ...) works on the rows read whole:
        # correct for small data; the training, evaluation and predict paths never need it.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(np.asarray(self), name)

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)
