"""How data errors name their place: `FILE:LINE: column "c": ...` for CSV cells,
`FILE: key "y": example 7: ...` for NPZ arrays.

Every `DataError` raised by this package starts with the file's display name, so the CLI can
print it as is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError


def display_name(path: Path | str) -> str:
    """The path as a user would type it: normalized (`specs/../datasets/x.csv` ->
    `datasets/x.csv`) and relative to the working directory when it lies below it."""
    text = os.path.normpath(str(path))
    if os.path.isabs(text):
        try:
            rel = os.path.relpath(text)
        except ValueError:  # another drive on Windows
            return text
        if not rel.startswith(".."):
            return rel
    return text


def fail(file: str, message: str, line: int | None = None) -> DataError:
    """A DataError `FILE[:LINE]: MESSAGE` (returned, so callers write `raise fail(...)`)."""
    where = f"{file}:{line}" if line else file
    return DataError(f"{where}: {message}")


def quote(value: str, limit: int = 40) -> str:
    """A cell value for a message: double-quoted, shortened when long."""
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return '"' + text.replace('"', '\\"') + '"'


def name_list(names: Sequence[str], limit: int = 12) -> str:
    """`a, b, c` (at most `limit` names, then `... (N in all)`)."""
    names = [str(n) for n in names]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


class Locator:
    """Maps example i (and optionally a column) to the prefix of an error message.

    CSV: `file:LINE: column "c": `; NPZ: `file: key "y": example i: `.
    """

    def __init__(self, file: str, lines: Sequence[int] | None = None, key: str | None = None):
        self.file = file
        self.lines = lines
        self.key = key

    def error(self, i: int | tuple | None, column: str | None, message: str) -> DataError:
        if self.lines is not None:
            line = None if i is None else int(self.lines[i if isinstance(i, int) else i[0]])
            col = f'column "{column}": ' if column else ""
            return fail(self.file, col + message, line)
        key = f'key "{column or self.key}": ' if (column or self.key) else ""
        if i is None:
            where = ""
        elif isinstance(i, tuple):
            where = f"example {i[0]}" + (f" at {list(i[1:])}" if len(i) > 1 else "") + ": "
        else:
            where = f"example {i}: "
        return fail(self.file, key + where + message)
