"""The fast structural pass over a CSV file: bytes in chunks, vectorized line and comma counts.

`scan_plain` reads the file once in chunks of whole lines and returns the header, the 1-based
line of every data row and the byte size, holding at most one chunk (and one int64 per row).
It returns None whenever the file is not "plain" - quotes, NUL bytes, lone carriage returns,
a row of the wrong width, a whitespace-only line - and the careful `csv`-module reader in
csv_reader.py then reads it and locates whatever is wrong with the exact messages users know.
UTF-8 errors are located here (line of the bad byte), as the careful reader would.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .source import fail

CHUNK = 4 << 20


@dataclass
class PlainScan:
    header_cells: list[str]  # raw (unstripped) header cells
    header_line: int
    lines: np.ndarray  # int64 (rows,): 1-based line of each data row
    size: int


def _lines_of(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the lines in one chunk (ends exclude the newline)."""
    nl = np.flatnonzero(buf == 10)
    ends = nl if (nl.size and nl[-1] == buf.size - 1) else np.append(nl, buf.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends


def scan_plain(
    path: Path, file: str, progress: Callable[[int, int, str], None] | None = None
) -> PlainScan | None:
    size = path.stat().st_size
    header: list[str] | None = None
    header_line = 0
    width = 0
    rows: list[np.ndarray] = []
    line0 = 0  # lines before this chunk
    done = 0
    for data in _chunks(path):
        try:
            data.decode("utf-8")  # chunks end at a newline, so no character is cut in two
        except UnicodeDecodeError as exc:
            line = line0 + data[: exc.start].count(b"\n") + 1
            raise fail(
                file,
                f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                line,
            ) from None
        if b'"' in data or b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
            return None
        buf = np.frombuffer(data, dtype=np.uint8)
        starts, ends = _lines_of(buf)
        length = ends - starts - (buf[np.maximum(ends - 1, 0)] == 13) * (ends > starts)
        commas = np.flatnonzero(buf == 44)
        cells = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
        blank = length == 0
        for k in np.flatnonzero((cells == 1) & ~blank):
            if not data[starts[k] : ends[k]].strip():
                return None  # whitespace-only: the careful reader decides
        numbers = line0 + 1 + np.arange(starts.size)
        if header is None:
            nonblank = np.flatnonzero(~blank)
            if nonblank.size:
                k = int(nonblank[0])
                text = data[starts[k] : ends[k]].decode("utf-8").rstrip("\r")
                header, header_line, width = text.split(","), int(numbers[k]), int(cells[k])
                blank = blank.copy()
                blank[: k + 1] = True
        if header is not None:
            keep = ~blank
            if (cells[keep] != width).any():
                return None
            rows.append(numbers[keep])
        line0 += starts.size
        done += len(data)
        if progress is not None:
            progress(min(done, size), size, "bytes")
    if header is None:
        return None
    return PlainScan(header, header_line, np.concatenate(rows) if rows else np.zeros(0, np.int64), size)


def _chunks(path: Path):
    """The file in chunks of whole lines (bytes), BOM removed."""
    carry = b""
    first = True
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            data = carry + block
            if not data:
                return
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    carry = data
                    continue
                data, carry = data[:cut], data[cut:]
            else:
                carry = b""
            if first and data.startswith(codecs.BOM_UTF8):
                data = data[3:]
            first = False
            yield data
            if not block:
                return


def column_cells(path: Path, lines: np.ndarray, j: int, width: int) -> list[str]:
    """The raw cells of column j of a plain file, one per data row (`lines`: the rows' 1-based
    lines, ascending), cut out at vectorized comma positions instead of parsing whole lines."""
    out: list[str] = []
    line0 = 0
    k = 0
    for data in _chunks(path):
        buf = np.frombuffer(data, dtype=np.uint8)
        starts, ends = _lines_of(buf)
        k2 = int(np.searchsorted(lines, line0 + starts.size, side="right"))
        take = lines[k:k2] - (line0 + 1)
        k = k2
        s, e = starts[take], ends[take]
        e = e - ((buf[np.maximum(e - 1, 0)] == 13) & (e > s))
        commas = np.flatnonzero(buf == 44)
        first = np.searchsorted(commas, s)  # each row's first comma
        a = s if j == 0 else commas[first + j - 1] + 1
        b = e if j == width - 1 else commas[first + j]
        out.extend(data[x:y].decode("utf-8") for x, y in zip(a.tolist(), b.tolist()))
        line0 += starts.size
    return out
