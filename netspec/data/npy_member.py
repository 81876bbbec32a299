"""One `.npy` payload - a file, or a member of a `.npz` zip - opened without copying it whole.

A `.npy` file and a stored (uncompressed, what `np.savez` writes) `.npz` member are memory-mapped
read-only with `np.memmap` at the payload's offset; a compressed member is read once into one
array. Before anything is mapped or allocated, the header is parsed with numpy's own format
reader and the bytes it declares are checked against the bytes actually there, so a header that
declares 10^11 rows is a located error, not a MemoryError. Pickle is never loaded.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from .source import fail

PICKLE_HINT = "object arrays need pickle, which netspec never loads; save numeric or string arrays"


def _header(f, file: str, label: str) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran_order, dtype) from the stream at the start of a .npy payload."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=100_000)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=100_000)
    except (ValueError, EOFError, OSError, SyntaxError, struct.error) as exc:
        raise fail(file, f"{label}is not a .npy array ({exc})") from None
    if dtype.hasobject:
        raise fail(file, label + PICKLE_HINT)
    return shape, fortran, dtype


def _declared(shape: tuple, dtype: np.dtype) -> int:
    count = 1
    for d in shape:
        count *= int(d)
    return count * dtype.itemsize


def _too_big(file: str, label: str, shape, declared: int, actual: int) -> Exception:
    return fail(
        file,
        f"{label}the header declares shape {list(shape)} ({declared:,} bytes) but only "
        f"{actual:,} bytes of data follow; the file is truncated or its header is wrong",
    )


def memory_limit() -> int:
    """Bytes a compressed array may decompress to: the machine's physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def map_npy(path: Path, file: str) -> np.ndarray:
    """A .npy file as a read-only memory map (a plain array when it holds no data)."""
    try:
        with open(path, "rb") as f:
            shape, fortran, dtype = _header(f, file, "")
            offset = f.tell()
    except OSError as exc:
        raise fail(file, f"not a readable .npy file ({exc.strerror or exc})") from None
    return _map(path, file, "", offset, path.stat().st_size - offset, shape, fortran, dtype)


def _map(path, file, label, offset, available, shape, fortran, dtype) -> np.ndarray:
    declared = _declared(shape, dtype)
    if declared > available:
        raise _too_big(file, label, shape, declared, available)
    if declared == 0:
        return np.zeros(shape, dtype=dtype, order="F" if fortran else "C")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")  # fmt: skip


def _data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start: after its local file header (30 bytes + name + extra)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def read_member(zf: zipfile.ZipFile, path: Path, info: zipfile.ZipInfo, file: str, label: str) -> np.ndarray:
    """A .npz member: memory-mapped when stored, else read once (size checked first)."""
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
        start = _data_offset(path, info)
        with open(path, "rb") as f:
            f.seek(start)
            head = io.BytesIO(f.read(min(info.file_size, 100_200)))
        shape, fortran, dtype = _header(head, file, label)
        at = head.tell()
        return _map(path, file, label, start + at, info.file_size - at, shape, fortran, dtype)
    with zf.open(info) as f:
        shape, fortran, dtype = _header(f, file, label)
        declared = _declared(shape, dtype)
        available = info.file_size - f.tell()
        if declared > available:
            raise _too_big(file, label, shape, declared, available)
        if declared > memory_limit():
            raise fail(
                file,
                f"{label}shape {list(shape)} needs {declared:,} bytes, more than this machine's "
                f"memory ({memory_limit():,} bytes); save it uncompressed (np.savez) so it can be "
                "memory-mapped",
            )
        out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        view = out.reshape(-1, order="A").view(np.uint8) if declared else memoryview(b"")
        got = f.readinto(memoryview(view)) if declared else 0
    if got != declared:
        raise _too_big(file, label, shape, declared, got)
    return out
