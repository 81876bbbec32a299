"""Source maps: key path -> (line, col) for TOML and JSON spec files.

tomllib and json give no positions, so after they have parsed a file (and so it is known to be
valid) a small scanner walks the same text and records where every key, table header and array
element starts. Lines and columns are 1-based. The scanners never loop forever or raise on
malformed text either: netspec.spec.syntax runs them over the valid prefix of a broken file to
explain duplicate keys and tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Path = tuple


@dataclass
class SourceMap:
    file: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> tuple[int, int]:
        """Position of the longest recorded prefix of `path` (the key itself when it is written,
        else the table that should hold it); (1, 1) when nothing matches."""
        for n in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:n]))
            if pos:
                return pos
        return (1, 1)


_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
    "/": "/",
}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|\s*\n\s*|.)", re.DOTALL)


def _unescape(raw: str) -> str:
    """Decode the escapes of a TOML basic string or a JSON string."""

    def one(m: re.Match) -> str:
        esc = m.group(1)
        if esc[0] in "uU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if "\n" in esc:  # TOML line-ending backslash: trims the newline and following spaces
            return ""
        return _ESCAPES.get(esc, esc)

    return _ESCAPE.sub(one, raw) if "\\" in raw else raw


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.n = len(text)
        self.i = 0
        self.line_starts = [0]
        for k, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(k + 1)
        self.positions: dict[Path, tuple[int, int]] = {}

    def where(self, i: int | None = None) -> tuple[int, int]:
        i = self.i if i is None else i
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= i:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, i - self.line_starts[lo] + 1

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < self.n else ""

    def skip_space(self, newlines: bool = True, comments: bool = True) -> None:
        while self.i < self.n:
            ch = self.text[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif comments and ch == "#":
                while self.i < self.n and self.text[self.i] != "\n":
                    self.i += 1
            else:
                return

    def record(self, path: Path, at: int) -> None:
        self.positions.setdefault(tuple(path), self.where(at))

    def skip_string(self) -> str:
        """Skip a quoted string at self.i (TOML basic/literal/multi-line, or JSON); return it."""
        quote = self.text[self.i]
        triple = self.text.startswith(quote * 3, self.i)
        delim = quote * 3 if triple else quote
        start = self.i + len(delim)
        j = start
        while j < self.n:
            if quote == '"' and self.text[j] == "\\":
                j += 2
                continue
            if not triple and self.text[j] == "\n":
                break  # unterminated (only seen in broken files)
            if self.text.startswith(delim, j):
                # up to two quotes may directly precede a multi-line string's closing delimiter
                extra = 0
                while triple and extra < 2 and self.text.startswith(delim, j + extra + 1):
                    extra += 1
                j += extra
                break
            j += 1
        j = min(j, self.n)
        self.i = min(j + len(delim), self.n)
        raw = self.text[start:j]
        if triple and raw.startswith("\n"):
            raw = raw[1:]
        return _unescape(raw) if quote == '"' else raw


class _TomlScanner(_Scanner):
    def __init__(self, text: str):
        super().__init__(text)
        self.table: Path = ()
        self.counts: dict[Path, int] = {}  # array-of-tables path -> number of elements so far

    def key(self) -> list[str]:
        parts = []
        while self.i < self.n:
            self.skip_space(newlines=False)
            if self.peek() in ("'", '"') and self.peek():
                parts.append(self.skip_string())
            else:
                j = self.i
                while self.i < self.n and (
                    self.text[self.i].isalnum() or self.text[self.i] in "_-"
                ):
                    self.i += 1
                parts.append(self.text[j : self.i])
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return parts
            self.i += 1
        return parts or [""]

    def resolve(self, path: Path) -> Path:
        """Insert the current index after every array-of-tables prefix: [a.b] after [[a]] is
        a sub-table of a's last element."""
        out: list = []
        for part in path:
            out.append(part)
            if tuple(out) in self.counts and len(out) < len(path):
                out.append(self.counts[tuple(out)] - 1)
        return tuple(out)

    def record_all(self, base: Path, path: Path, at: int) -> None:
        """Record `path` and its prefixes below `base` (dotted keys and headers define them)."""
        for n in range(len(base) + 1, len(path) + 1):
            self.record(path[:n], at)

    def scan(self) -> dict[Path, tuple[int, int]]:
        while True:
            self.skip_space()
            if self.i >= self.n:
                return self.positions
            start = self.i
            if self.peek() == "[":
                double = self.peek(1) == "["
                self.i += 2 if double else 1
                path = self.resolve(tuple(self.key()))
                self.i += 2 if double else 1
                if double:
                    idx = self.counts.get(path, 0)
                    self.counts[path] = idx + 1
                    self.record_all((), path, start)
                    self.table = path + (idx,)
                else:
                    self.table = path
                self.record_all((), self.table, start)
            else:
                path = self.table + tuple(self.key())
                self.record_all(self.table, path, start)
                self.i += 1  # '='
                self.value(path)

    def value(self, path: Path) -> None:
        self.skip_space(newlines=False)
        ch = self.peek()
        if ch in ("'", '"') and ch:
            self.skip_string()
        elif ch in ("{", "["):
            self.i += 1
            close, idx = ("}" if ch == "{" else "]"), 0
            while self.i < self.n:
                self.skip_space()
                before = self.i
                if self.peek() == close:
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                if ch == "{":
                    sub = path + tuple(self.key())
                    self.record_all(path, sub, before)
                    self.skip_space(newlines=False)
                    self.i += 1  # '='
                else:
                    sub = path + (idx,)
                    self.record(sub, before)
                    idx += 1
                self.value(sub)
                if self.i == before:
                    self.i += 1  # malformed text: always make progress
        else:
            while self.i < self.n and self.text[self.i] not in ",]}\n#":
                self.i += 1


class _JsonScanner(_Scanner):
    def __init__(self, text: str):
        super().__init__(text)
        # (path, position, position of the first occurrence) of every repeated object key
        self.duplicates: list[tuple[Path, tuple[int, int], tuple[int, int]]] = []

    def scan(self) -> dict[Path, tuple[int, int]]:
        self.skip_space(comments=False)
        self.record((), self.i)
        self.value(())
        return self.positions

    def value(self, path: Path) -> None:
        self.skip_space(comments=False)
        ch = self.peek()
        if ch == '"':
            self.skip_string()
        elif ch in ("{", "[") and ch:
            close = "}" if ch == "{" else "]"
            self.i += 1
            idx = 0
            seen: dict[str, tuple[int, int]] = {}
            while self.i < self.n:
                self.skip_space(comments=False)
                before = self.i
                if self.peek() == close:
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                if ch == "{":
                    key = self.skip_string() if self.peek() == '"' else ""
                    sub = path + (key,)
                    if key in seen:
                        self.duplicates.append((sub, self.where(before), seen[key]))
                    else:
                        seen[key] = self.where(before)
                    self.record(sub, before)
                    self.skip_space(comments=False)
                    self.i += 1  # ':'
                else:
                    sub = path + (idx,)
                    self.record(sub, before)
                    idx += 1
                self.value(sub)
                if self.i == before:
                    self.i += 1
        else:
            while (
                self.i < self.n
                and self.text[self.i] not in ",]}"
                and not self.text[self.i].isspace()
            ):
                self.i += 1


def toml_source_map(file: str, text: str) -> SourceMap:
    return SourceMap(file, _TomlScanner(text).scan())


def json_source_map(file: str, text: str) -> SourceMap:
    return SourceMap(file, _JsonScanner(text).scan())


def json_duplicates(text: str) -> list[tuple[Path, tuple[int, int], tuple[int, int]]]:
    """Every repeated key of a JSON text: (path, position, position of the first one)."""
    scanner = _JsonScanner(text)
    scanner.scan()
    return scanner.duplicates


def toml_prefix_state(text: str) -> _TomlScanner:
    """Scan the (valid) beginning of a TOML text: its positions and the table open at its end."""
    scanner = _TomlScanner(text)
    scanner.scan()
    return scanner
