"""`Rows`: the examples of one split as an index array over the source array, read per batch.

The source may be an in-memory array or a read-only memory map of a .npy / .npz member; nothing
is copied whole. Indexing a `Rows` (a slice, an int array, an int) reads just those examples,
casts them to the training dtype and applies the per-batch transform (standardization, zeroed
padded steps), returning a fresh ndarray. Each element goes through the same operations as a
whole-array transform would, so batches are bit-identical whether the source is in memory or
mapped.

Pages of a memory map that were touched count in the process's RSS (and the kernel maps pages
around each one touched), so a shuffled epoch over a mapped file would grow RSS to the file
size. Rows of a C-contiguous memory map are therefore read with explicit `preadv` calls into
the batch (one call per run of consecutive rows): the page cache still holds the file, but RSS
holds only the batch.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable

import numpy as np


def file_layout(arr) -> tuple[str, int, int] | None:
    """(file, byte offset of arr[0], bytes per example) of a C-contiguous memory map, else None."""
    mm, name = getattr(arr, "_mmap", None), getattr(arr, "filename", None)
    if mm is None or name is None or arr.ndim == 0 or not arr.flags.c_contiguous:
        return None
    base = np.frombuffer(mm, dtype=np.uint8)
    mapped_from = arr.offset - arr.offset % mmap.ALLOCATIONGRANULARITY
    at = mapped_from + (arr.ctypes.data - base.ctypes.data)
    del base
    return name, int(at), int(arr[:1].nbytes)


def read_rows(layout: tuple[str, int, int], rows: np.ndarray, dtype, shape) -> np.ndarray:
    """Examples `rows` (ascending) of a mapped file, read with preadv (no pages mapped)."""
    name, at, per = layout
    out = np.empty((rows.size, *shape), dtype=dtype)
    flat = out.reshape(rows.size, -1).view(np.uint8).reshape(rows.size, per) if rows.size else None
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate(([0], breaks)).tolist()
    ends = np.concatenate((breaks, [rows.size])).tolist()
    with open(name, "rb", buffering=0) as f:
        for a, b in zip(starts, ends):
            if a == b:
                continue
            view = memoryview(flat[a:b]).cast("B")
            where = at + int(rows[a]) * per
            got = os.preadv(f.fileno(), [view], where) if hasattr(os, "preadv") else _seek_read(f, view, where)
            if got != view.nbytes:
                raise OSError(f"{name}: short read ({got} of {view.nbytes} bytes)")
    return out


def _seek_read(f, view, where: int) -> int:
    f.seek(where)
    return f.readinto(view)


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
        self._layout = file_layout(source)

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
        if self._layout is not None and (isinstance(rows, slice) or rows.ndim == 1):
            if isinstance(rows, slice):
                rows = np.arange(*rows.indices(self.source.shape[0]))
            rows = np.where(rows < 0, rows + self.source.shape[0], rows)
            if rows.size and (rows.min() < 0 or rows.max() >= self.source.shape[0]):
                raise IndexError("example index out of range")
            order = np.argsort(rows, kind="stable")
            block = read_rows(self._layout, rows[order], self.source.dtype, self.source.shape[1:])
            out = np.empty_like(block)
            out[order] = block
        elif isinstance(rows, np.ndarray) and rows.ndim == 1 and rows.size > 1:
            # Read in file order (sequential pages), then put back in the asked order.
            order = np.argsort(rows, kind="stable")
            block = np.asarray(self.source[rows[order]])
            out = np.empty_like(block)
            out[order] = block
        else:
            out = np.array(self.source[rows])
        out = out.astype(self.dtype, copy=False)
        if self.transform is not None:
            out = self.transform(out, rows)
        return out

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
