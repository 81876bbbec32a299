"""Read a CSV file (header row required) into a table of strings, with every problem located.

The file is read once with the `csv` module; numeric columns are converted in one vectorized
`astype(float64)`; only when that fails (or yields NaN/inf) is the file scanned cell by cell to
find and name the first bad cell in file order. Line numbers are 1-based and count the header
(line 1); blank lines are skipped but still counted.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import did_you_mean
from .source import Locator, fail, name_list, quote


@dataclass
class CsvTable:
    """The data rows of a CSV file as strings: `cells[i, j]` is row i, column `header[j]`;
    `lines[i]` is the 1-based line of row i."""

    file: str
    header: list[str]
    header_line: int
    cells: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return self.cells.shape[0]

    @property
    def locator(self) -> Locator:
        return Locator(self.file, lines=self.lines)

    def has(self, name: str) -> bool:
        return name in self.header

    def column(self, name: str, role: str) -> int:
        """Index of column `name`; a located error with a suggestion when it is missing."""
        if name in self.header:
            return self.header.index(name)
        raise fail(
            self.file,
            f'{role} column "{name}" not found (columns: {name_list(self.header)})'
            f"{did_you_mean(name, self.header)}",
            self.header_line,
        )

    def texts(self, name: str, role: str, expected: str) -> list[str]:
        """The stripped cells of one column; an empty cell is a located error."""
        j = self.column(name, role)
        out = [str(c).strip() for c in self.cells[:, j]]
        for i, text in enumerate(out):
            if not text:
                raise self.locator.error(i, name, f"empty cell, expected {expected}")
        return out

    def numbers(self, names: list[str], role: str, expected: str = "a number") -> np.ndarray:
        """Columns `names` as float64 (rows, len(names)); the first empty, non-numeric, NaN or
        infinite cell (in file order) is a located error."""
        idx = [self.column(n, role) for n in names]
        sub = self.cells[:, idx]
        try:
            values = sub.astype(np.float64)
        except ValueError:
            values = None
        if values is not None and np.isfinite(values).all():
            return values
        return self._scan(sub, names, expected)

    def _scan(self, sub: np.ndarray, names: list[str], expected: str) -> np.ndarray:
        out = np.empty(sub.shape, dtype=np.float64)
        for i in range(sub.shape[0]):
            for j in range(sub.shape[1]):
                text = str(sub[i, j])
                stripped = text.strip()
                if not stripped:
                    raise self.locator.error(i, names[j], f"empty cell, expected {expected}")
                try:
                    value = float(stripped)
                except ValueError:
                    raise self.locator.error(
                        i, names[j], f"expected {expected}, got {quote(text)}"
                    ) from None
                if not math.isfinite(value):
                    raise self.locator.error(
                        i, names[j], f"expected a finite number, got {quote(stripped)}"
                    )
                out[i, j] = value
        return out


def _read_text(path: Path, file: str) -> str:
    if not path.exists():
        raise fail(file, "file not found")
    if path.is_dir():
        raise fail(file, "is a folder, expected a .csv file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(file, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(
            file, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", line
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(file: str, header: list[str], line: int) -> list[str]:
    names = [h.strip() for h in header]
    if all(_is_number(n) for n in names if n) and any(names):
        shown = ", ".join(quote(n) for n in names[:4]) + (", ..." if len(names) > 4 else "")
        raise fail(
            file,
            f"expected a header row of column names, got numbers ({shown}); "
            "add a first line that names the columns",
            line,
        )
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if not name:
            raise fail(file, f"header column {j + 1} has no name; every column needs one", line)
        if name in seen:
            raise fail(
                file,
                f'duplicate column name "{name}" (columns {seen[name] + 1} and {j + 1}); '
                "column names must be unique",
                line,
            )
        seen[name] = j
    return names


def read_csv(path: Path, file: str) -> CsvTable:
    """Read `path` (shown as `file` in errors) into a CsvTable."""
    text = _read_text(path, file)
    if not text.strip():
        raise fail(file, "the file is empty; expected a header row of column names, then data rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1  # first line of the row being read
    try:
        for row in reader:
            start = reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if header is None:
                header_line = reader.line_num
                header = _check_header(file, row, header_line)
                continue
            if len(row) != len(header):
                few = "too few" if len(row) < len(header) else "too many"
                raise fail(
                    file,
                    f"{few} cells: got {len(row)}, expected {len(header)} (one per header column)",
                    reader.line_num,
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise fail(
                file,
                'unclosed quote: the quoted cell that starts on this line never ends (missing `"`)',
                start,
            ) from None
        raise fail(file, f"malformed CSV: {exc}", reader.line_num) from None
    assert header is not None
    if not rows:
        raise fail(file, "no data rows after the header", header_line)
    cells = np.array(rows, dtype=str)
    return CsvTable(file, header, header_line, cells, np.asarray(lines, dtype=np.int64))
