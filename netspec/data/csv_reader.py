"""Read a CSV file (header row required) with every problem located.

Fast path: one vectorized structural pass (csv_scan.py), then each requested set of columns is
parsed at once by `np.loadtxt` straight into the training dtype. Careful path (quoted cells,
anything odd, or when the fast parse fails): the file is read with the `csv` module and, on a
bad value, scanned cell by cell to name the first bad cell in file order. Line numbers are
1-based and count the header (line 1); blank lines are skipped but still counted.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..errors import did_you_mean
from .csv_scan import column_cells, scan_plain
from .source import Locator, fail, name_list, quote


class CsvTable:
    """The data rows of a CSV file, read column by column on demand.

    Public: `file`, `header`, `header_line`, `lines` (1-based line of each row), `len()`,
    `has(name)`, `column(name, role)`, `texts(name, role, expected)` (stripped strings),
    `numbers(names, role, expected, dtype)`. A "plain" file (no quotes; see csv_scan.py) is parsed
    a whole column set at a time with numpy's C reader; only when that finds something wrong is
    the file read with the `csv` module and scanned cell by cell to name the first bad cell in
    file order, with the messages of the careful reader.
    """

    def __init__(self, file: str, header: list[str], header_line: int, lines: np.ndarray,
                 path: Path | None = None, cells: np.ndarray | None = None):  # fmt: skip
        self.file, self.header, self.header_line, self.lines = file, header, header_line, lines
        self._index = {name: j for j, name in enumerate(header)}
        self._path = path
        self._cells = cells  # object array (rows, columns): the careful reader's cells

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    @property
    def cells(self) -> np.ndarray:
        if self._cells is None:
            self._cells = _careful(self._path, self.file).cells
        return self._cells

    @property
    def locator(self) -> Locator:
        return Locator(self.file, lines=self.lines)

    def has(self, name: str) -> bool:
        return name in self._index

    def column(self, name: str, role: str) -> int:
        """Index of column `name`; a located error with a suggestion when it is missing."""
        if name in self._index:
            return self._index[name]
        raise fail(
            self.file,
            f'{role} column "{name}" not found (columns: {name_list(self.header)})'
            f"{did_you_mean(name, self.header)}",
            self.header_line,
        )

    def _load(self, idx: list[int], dtype) -> np.ndarray | None:
        if self._cells is not None or self._path is None:
            return None
        try:
            out = np.loadtxt(self._path, delimiter=",", skiprows=self.header_line, usecols=idx,
                             dtype=dtype, comments=None, encoding="utf-8", ndmin=2)  # fmt: skip
        except ValueError:
            return None
        return out if out.shape[0] == len(self) else None

    def texts(self, name: str, role: str, expected: str) -> list[str]:
        """The stripped cells of one column; an empty cell is a located error."""
        j = self.column(name, role)
        if self._cells is None and self._path is not None:
            column = column_cells(self._path, self.lines, j, len(self.header))
        else:
            column = self.cells[:, j]
        out = [str(c).strip() for c in column]
        for i, text in enumerate(out):
            if not text:
                raise self.locator.error(i, name, f"empty cell, expected {expected}")
        return out

    def numbers(self, names: list[str], role: str, expected: str = "a number",
                dtype=np.float64) -> np.ndarray:  # fmt: skip
        """Columns `names` as `dtype` (rows, len(names)); the first empty, non-numeric, NaN,
        infinite or (for float32) out-of-range cell in file order is a located error."""
        idx = [self.column(n, role) for n in names]
        values = self._load(idx, dtype)
        if values is None and self._cells is not None:
            try:
                values = self._cells[:, idx].astype(dtype)
            except ValueError:
                values = None
        if values is not None and np.isfinite(values).all():
            return values
        return self._scan(self.cells[:, idx], names, expected, dtype)

    def _scan(self, sub: np.ndarray, names: list[str], expected: str, dtype) -> np.ndarray:
        out = np.empty(sub.shape, dtype=dtype)
        limit = float(np.finfo(dtype).max) if np.dtype(dtype).kind == "f" else math.inf
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
                if abs(value) > limit:
                    raise self.locator.error(
                        i, names[j], f"{quote(stripped)} is beyond the range of {np.dtype(dtype).name} "
                        f"(largest magnitude {limit:.6g}); rescale the column",
                    )  # fmt: skip
                out[i, j] = value
        return out


def _check_file(path: Path, file: str) -> None:
    if not path.exists():
        raise fail(file, "file not found")
    if path.is_dir():
        raise fail(file, "is a folder, expected a .csv file")


def _read_text(path: Path, file: str) -> str:
    _check_file(path, file)
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


def read_csv(path: Path, file: str, progress=None) -> CsvTable:
    """Read `path` (shown as `file` in errors) into a CsvTable. `progress(done, total, "bytes")`
    is called as the file is scanned."""
    _check_file(path, file)
    scan = scan_plain(path, file, progress)
    if scan is None or not scan.lines.size:
        return _careful(path, file)
    header = _check_header(file, scan.header_cells, scan.header_line)
    return CsvTable(file, header, scan.header_line, scan.lines, path=path)


def _careful(path: Path, file: str) -> CsvTable:
    """The whole file through the `csv` module, every structural problem located."""
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
    cells = np.empty((len(rows), len(header)), dtype=object)  # no fixed-width copy of a huge cell
    cells[:] = rows
    return CsvTable(file, header, header_line, np.asarray(lines, dtype=np.int64), cells=cells)
