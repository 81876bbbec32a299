"""Read a Parquet file (`data.path = "x.parquet"`) through pyarrow (the `parquet` extra).

`ParquetTable` has the CsvTable interface (`header`, `has`, `column`, `numbers`, `texts`,
`locator`, `len()`), so the same spec keys (`target`, `features`) select columns. Errors name the
column and the 1-based row: `FILE: column "c": row 7: ...`. Numeric columns are converted whole
(one array, straight into the training dtype); only a column that fails is looked at value by
value to name the first bad one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DataError, did_you_mean
from .source import fail, name_list, quote


class RowLocator:
    def __init__(self, file: str):
        self.file = file

    def error(self, i, column: str | None, message: str) -> DataError:
        col = f'column "{column}": ' if column else ""
        row = "" if i is None else f"row {int(i if not isinstance(i, tuple) else i[0]) + 1}: "
        return fail(self.file, col + row + message)


class ParquetTable:
    header_line = None

    def __init__(self, file: str, table):
        self.file = file
        self._table = table
        self.header = [str(n) for n in table.column_names]
        self._index = {n: j for j, n in enumerate(self.header)}
        self.locator = RowLocator(file)

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def has(self, name: str) -> bool:
        return name in self._index

    def column(self, name: str, role: str) -> int:
        if name in self._index:
            return self._index[name]
        raise fail(self.file, f'{role} column "{name}" not found (columns: {name_list(self.header)})'
                   f"{did_you_mean(name, self.header)}")  # fmt: skip

    def _values(self, name: str):
        return self._table.column(self._index[name])

    def texts(self, name: str, role: str, expected: str) -> list[str]:
        self.column(name, role)
        out = ["" if v is None else str(v).strip() for v in self._values(name).to_pylist()]
        for i, text in enumerate(out):
            if not text:
                raise self.locator.error(i, name, f"empty cell, expected {expected}")
        return out

    def numbers(self, names: list[str], role: str, expected: str = "a number", dtype=np.float64) -> np.ndarray:
        import pyarrow as pa

        for n in names:
            self.column(n, role)
        out = np.empty((len(self), len(names)), dtype=dtype)
        limit = float(np.finfo(dtype).max)
        for j, name in enumerate(names):
            col = self._values(name)
            numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            if numeric and col.null_count == 0:
                values = col.to_numpy().astype(np.float64, copy=False)
                bad = ~np.isfinite(values) | (np.abs(values) > limit)
                if not bad.any():
                    out[:, j] = values
                    continue
            out[:, j] = self._scan(col.to_pylist(), name, expected, limit, np.dtype(dtype).name)
        return out

    def _scan(self, values: list, name: str, expected: str, limit: float, kind: str) -> np.ndarray:
        res = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            if v is None:
                raise self.locator.error(i, name, f"empty cell (null), expected {expected}")
            try:
                value = float(v.strip() if isinstance(v, str) else v)
            except (TypeError, ValueError):
                raise self.locator.error(i, name, f"expected {expected}, got {quote(str(v))}") from None
            if not math.isfinite(value):
                raise self.locator.error(i, name, f"expected a finite number, got {quote(str(v))}")
            if abs(value) > limit:
                raise self.locator.error(i, name, f"{quote(str(v))} is beyond the range of {kind} "
                                         f"(largest magnitude {limit:.6g}); rescale the column")  # fmt: skip
            res[i] = value
        return res


def read_parquet(path: Path, file: str, progress=None) -> ParquetTable:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise fail(file, "reading Parquet files needs pyarrow: pip install 'netspec[parquet]'") from None
    if not path.exists():
        raise fail(file, "file not found")
    if path.is_dir():
        raise fail(file, "is a folder, expected a .parquet file")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a bad file
        raise fail(file, f"not a readable Parquet file ({exc})") from None
    if table.num_rows == 0:
        raise fail(file, "no data rows")
    if progress is not None:
        size = path.stat().st_size
        progress(size, size, "bytes")
    return ParquetTable(file, table)
