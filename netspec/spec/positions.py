"""Source maps: key path -> (line, col) for TOML and JSON spec files.

tomllib and json give no positions, so after they have parsed a file (and so it is known to be
valid) a small scanner walks the same text and records where every key, table header and array
element starts. Lines and columns are 1-based.
"""

from __future__ import annotations

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


class _Scanner:
    def __init__(self, text: str):
        self.text = text
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
        return self.text[j] if j < len(self.text) else ""

    def skip_space(self, newlines: bool = True, comments: bool = True) -> None:
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif comments and ch == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
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
        while j < len(self.text):
            if quote == '"' and self.text[j] == "\\":
                j += 2
                continue
            if self.text.startswith(delim, j):
                break
            j += 1
        self.i = j + len(delim)
        raw = self.text[start:j]
        return raw.encode().decode("unicode_escape") if quote == '"' and "\\" in raw else raw


class _TomlScanner(_Scanner):
    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_space(newlines=False)
            if self.peek() in "\"'":
                parts.append(self.skip_string())
            else:
                j = self.i
                while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_-"):
                    self.i += 1
                parts.append(self.text[j : self.i])
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return parts
            self.i += 1

    def scan(self) -> dict[Path, tuple[int, int]]:
        table: Path = ()
        counts: dict[Path, int] = {}
        while True:
            self.skip_space()
            if self.i >= len(self.text):
                return self.positions
            start = self.i
            if self.peek() == "[":
                double = self.peek(1) == "["
                self.i += 2 if double else 1
                path = tuple(self.key())
                self.i += 2 if double else 1
                if double:
                    idx = counts.get(path, 0)
                    counts[path] = idx + 1
                    self.record(path, start)
                    table = path + (idx,)
                else:
                    table = path
                self.record(table, start)
            else:
                path = table + tuple(self.key())
                self.record(path, start)
                self.i += 1  # '='
                self.value(path)

    def value(self, path: Path) -> None:
        self.skip_space(newlines=False)
        ch = self.peek()
        if ch in "\"'":
            self.skip_string()
        elif ch == "{":
            self.i += 1
            while True:
                self.skip_space()
                if self.peek() == "}":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                start = self.i
                sub = path + tuple(self.key())
                self.record(sub, start)
                self.i += 1  # '='
                self.value(sub)
        elif ch == "[":
            self.i += 1
            idx = 0
            while True:
                self.skip_space()
                if self.peek() == "]":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                self.record(path + (idx,), self.i)
                self.value(path + (idx,))
                idx += 1
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.i += 1


class _JsonScanner(_Scanner):
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
        elif ch in "{[":
            close = "}" if ch == "{" else "]"
            self.i += 1
            idx = 0
            while True:
                self.skip_space(comments=False)
                if self.peek() == close:
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                if ch == "{":
                    start = self.i
                    key = self.skip_string()
                    sub = path + (key,)
                    self.record(sub, start)
                    self.skip_space(comments=False)
                    self.i += 1  # ':'
                else:
                    sub = path + (idx,)
                    self.record(sub, self.i)
                    idx += 1
                self.value(sub)
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}" and not self.text[self.i].isspace():
                self.i += 1


def toml_source_map(file: str, text: str) -> SourceMap:
    return SourceMap(file, _TomlScanner(text).scan())


def json_source_map(file: str, text: str) -> SourceMap:
    return SourceMap(file, _JsonScanner(text).scan())
