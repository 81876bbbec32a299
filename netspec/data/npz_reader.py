"""Read `.npz` / `.npy` arrays safely (`allow_pickle=False`, always) with named errors.

Object arrays need pickle to load, so they are refused with a message that says how to save
the data instead. Missing keys list the keys the file has.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Self

import numpy as np

from ..errors import DataError, did_you_mean
from .rows import Rows
from .npy_member import PICKLE_HINT, map_npy, read_member
from .source import Locator, fail, name_list

_PICKLE_HINT = PICKLE_HINT
NPY_MAGIC = b"\x93NUMPY"


_MAGIC = {".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".npy": (b"\x93NUMPY",)}


def _check_path(path: Path, file: str, kind: str) -> None:
    if not path.exists():
        raise fail(file, "file not found")
    if path.is_dir():
        raise fail(file, f"is a folder, expected a {kind} file")
    # numpy treats any other content as a pickle and says so: a CSV named .npz is not a pickle
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise fail(file, f"not a readable {kind} file (it is empty, 0 bytes)")
    if not head.startswith(_MAGIC[kind]):
        shown = head.decode("latin-1").encode("unicode_escape").decode()
        text = head and all(32 <= b < 127 or b in (9, 10, 13) for b in head)
        raise fail(file, f"not a readable {kind} file (it starts with \"{shown}\")"
                   + ("; it looks like text: a CSV file should end in .csv" if text else ""))  # fmt: skip


class NpzArrays:
    """An open `.npz` file; use as a context manager and read arrays with `get`.

    Stored members (what `np.savez` writes) come back memory-mapped (`np.memmap`, read-only),
    compressed ones (`np.savez_compressed`) as one array read once.
    """

    def __init__(self, path: Path, file: str):
        _check_path(path, file, ".npz")
        self.file, self.path = file, path
        try:
            with open(path, "rb") as f:
                magic = f.read(len(NPY_MAGIC))
            if magic == NPY_MAGIC:
                raise fail(file, "is a single .npy array, expected an .npz archive of named arrays")
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise fail(file, f"not a readable .npz file ({exc})") from None
        self._members = {}
        for info in self._zip.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            self._members.setdefault(key, info)
        self.keys = list(self._members)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def has(self, key: str) -> bool:
        return key in self._members

    def get(self, key: str, setting: str) -> np.ndarray:
        """Array `key`; `setting` names the spec key that chose it (e.g. `data.x_key`)."""
        if key not in self._members:
            raise fail(
                self.file,
                f'no array "{key}" ({setting}); the file has: {name_list(self.keys) or "no arrays"}'
                f"{did_you_mean(key, self.keys)}",
            )
        info = self._members[key]
        label = f'key "{key}": '
        if not info.filename.endswith(".npy"):
            raise fail(self.file, f"{label}the member {info.filename!r} is not a .npy array")
        try:
            arr = read_member(self._zip, self.path, info, self.file, label)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            if isinstance(exc, DataError):
                raise
            raise fail(self.file, f"{label}cannot read the array ({exc})") from None
        return check_plain(arr, self.file, key)


def check_plain(arr: np.ndarray, file: str, key: str | None) -> np.ndarray:
    """Refuse object, structured and complex arrays and scalars."""
    label = f'key "{key}": ' if key else ""
    if arr.dtype.kind == "O":
        raise fail(file, label + _PICKLE_HINT)
    if arr.dtype.kind in "cVMm":
        raise fail(
            file, label + f"unsupported array dtype {arr.dtype}; expected numbers or strings"
        )
    if arr.ndim == 0:
        raise fail(file, label + "is a single value; expected one entry per example")
    if arr.shape[0] == 0:
        raise fail(file, label + "has no examples (length 0)")
    return arr


def read_npy(path: Path, file: str) -> np.ndarray:
    """One array from a `.npy` file, memory-mapped read-only."""
    _check_path(path, file, ".npy")
    with open(path, "rb") as f:
        if f.read(2) == b"PK":
            raise fail(file, "is an .npz archive; expected a single .npy array")
    return check_plain(map_npy(path, file), file, None)


CHECK_ROWS_BYTES = 32 << 20  # finiteness is checked this many bytes of examples at a time


def as_numbers(arr: np.ndarray, loc: Locator, key: str, dtype=np.float64, progress=None) -> np.ndarray:
    """A numeric array, checked: strings, non-finite values and (for float32 training) values
    beyond float32's range are errors naming the example. Returns `arr` itself (never a copy of
    a memory map; cast per batch later) when it is already a float array, else `arr` as `dtype`."""
    if arr.dtype.kind not in "biuf":
        raise loc.error(None, key, f"expected numbers, got an array of {arr.dtype} values")
    limit = float(np.finfo(dtype).max) if np.dtype(dtype).kind == "f" else math.inf
    if arr.dtype.kind == "f" and arr.ndim:
        per = max(1, arr[:1].size * arr.dtype.itemsize)
        step = max(1, CHECK_ROWS_BYTES // per)
        rows = Rows(arr)
        for i in range(0, arr.shape[0], step):
            chunk = rows[i : i + step]  # explicit reads: a memory map's pages stay out of RSS
            bad = ~np.isfinite(chunk)
            if np.dtype(dtype).itemsize < chunk.dtype.itemsize:
                bad |= np.abs(chunk) > limit
            if bad.any():
                at = tuple(int(v) for v in np.argwhere(bad)[0])
                value = chunk[at]
                at = (at[0] + i, *at[1:])
                if np.isfinite(value):
                    raise loc.error(at, key, f"{value} is beyond the range of {np.dtype(dtype).name} "
                                    f"(largest magnitude {limit:.6g}); rescale the data")  # fmt: skip
                raise loc.error(at, key, f"expected a finite number, got {value}")
            if progress is not None:
                progress(min(i + step, arr.shape[0]), arr.shape[0], "rows")
        return arr
    return np.asarray(arr).astype(np.float64).astype(dtype, copy=False) if arr.ndim else arr.astype(dtype)
