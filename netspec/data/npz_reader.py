"""Read `.npz` / `.npy` arrays safely (`allow_pickle=False`, always) with named errors.

Object arrays need pickle to load, so they are refused with a message that says how to save
the data instead. Missing keys list the keys the file has.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Self

import numpy as np

from ..errors import did_you_mean
from .source import Locator, fail, name_list

_PICKLE_HINT = "object arrays need pickle, which netspec never loads; save numeric or string arrays"


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
    """An open `.npz` file; use as a context manager and read arrays with `get`."""

    def __init__(self, path: Path, file: str):
        _check_path(path, file, ".npz")
        self.file = file
        try:
            self._npz = np.load(path, allow_pickle=False)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise fail(file, f"not a readable .npz file ({exc})") from None
        if not isinstance(self._npz, np.lib.npyio.NpzFile):
            raise fail(file, "is a single .npy array, expected an .npz archive of named arrays")
        self.keys = list(self._npz.files)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._npz.close()

    def has(self, key: str) -> bool:
        return key in self.keys

    def get(self, key: str, setting: str) -> np.ndarray:
        """Array `key`; `setting` names the spec key that chose it (e.g. `data.x_key`)."""
        if key not in self.keys:
            raise fail(
                self.file,
                f'no array "{key}" ({setting}); the file has: {name_list(self.keys) or "no arrays"}'
                f"{did_you_mean(key, self.keys)}",
            )
        try:
            arr = self._npz[key]
        except ValueError:
            raise fail(self.file, f'key "{key}": {_PICKLE_HINT}') from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise fail(self.file, f'key "{key}": cannot read the array ({exc})') from None
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
    """One array from a `.npy` file."""
    _check_path(path, file, ".npy")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise fail(file, _PICKLE_HINT) from None
        raise fail(file, f"not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise fail(file, f"not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise fail(file, "is an .npz archive; expected a single .npy array")
    return check_plain(arr, file, None)


def as_numbers(arr: np.ndarray, loc: Locator, key: str) -> np.ndarray:
    """A numeric array as float64; strings and non-finite values are errors naming the example."""
    if arr.dtype.kind not in "biuf":
        raise loc.error(None, key, f"expected numbers, got an array of {arr.dtype} values")
    values = arr.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise loc.error(at, key, f"expected a finite number, got {values[at]}")
    return values
