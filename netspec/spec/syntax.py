"""Syntax errors of TOML and JSON spec files as located diagnostics that say how to fix them.

tomllib and json report terse messages ("Invalid value", "Expecting property name enclosed in
double quotes"); here they are explained at the position of the culprit: the opening quote of an
unterminated string, the opening bracket of an unclosed array, the trailing comma, the second
occurrence of a duplicate key (naming the line of the first).
"""

from __future__ import annotations

import json
import re
import tomllib

from ..errors import Diagnostic
from .positions import _TomlScanner, json_duplicates, toml_prefix_state

_TOML_POS = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)")
_TOKEN = re.compile(r"[^\s,\]}#]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*$")


class _Text:
    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]

    def offset(self, line: int, col: int) -> int:
        line = min(max(line, 1), len(self.starts))
        return min(self.starts[line - 1] + col - 1, len(self.text))

    def where(self, offset: int) -> tuple[int, int]:
        line = max(k for k, s in enumerate(self.starts) if s <= offset)
        return line + 1, offset - self.starts[line] + 1

    def token(self, offset: int) -> str:
        """The bare word at `offset` (or its one character when it starts no word)."""
        return _TOKEN.match(self.text, offset).group(0) or self.text[offset : offset + 1].strip()

    def prev_char(self, offset: int) -> int:
        """Offset of the last non-space character before `offset` (-1 if none)."""
        k = offset - 1
        while k >= 0 and self.text[k].isspace():
            k -= 1
        return k


def _open_construct(text: str, upto: int, toml: bool) -> tuple[str | None, int]:
    """What is still open at `upto`: ("string", start), ("bracket", start) or (None, upto)."""
    stack: list[int] = []
    i = 0
    while i < upto:
        ch = text[i]
        if toml and ch == "#":
            j = text.find("\n", i)
            i = upto if j < 0 else j
            continue
        if ch == '"' or (toml and ch == "'"):
            triple = toml and text.startswith(ch * 3, i)
            delim = ch * 3 if triple else ch
            j = i + len(delim)
            while j < upto:
                if ch == '"' and text[j] == "\\":
                    j += 2
                    continue
                if (not triple and text[j] == "\n") or text.startswith(delim, j):
                    break
                j += 1
            if j >= upto or text[j] == "\n" and not triple:
                return "string", i
            i = j + len(delim)
            continue
        if ch in "[{":
            stack.append(i)
        elif ch in "]}" and stack:
            stack.pop()
        i += 1
    return ("bracket", stack[-1]) if stack else (None, upto)


_UNTERMINATED = (
    "unterminated string: close it with the same quote on this line "
    '(text over several lines goes in triple quotes """...""")'
)


def _is_control(text: str, offset: int) -> bool:
    """A control character other than a line break (a NUL, a stray byte from a binary file)."""
    return offset < len(text) and (ord(text[offset]) < 32 or text[offset] == "\x7f") and text[offset] not in "\n\r"


def _control_message(ch: str, toml: bool) -> str:
    escape = f"\\u{ord(ch):04x}"
    name = {"\x00": "NUL ", "\t": "tab "}.get(ch, "")
    return (f"control character {name}(U+{ord(ch):04X}) is not allowed here; inside a string write "
            f"it as `{escape}`, or remove it")


def toml_syntax(exc: tomllib.TOMLDecodeError, text: str, file: str) -> list[Diagnostic]:
    msg = str(exc)
    m = _TOML_POS.search(msg)
    base = _TOML_POS.sub("", msg).strip()
    t = _Text(text)
    at_end = m is None or m.group(1) is None
    offset = len(text) if at_end else t.offset(int(m.group(1)), int(m.group(2)))
    path: tuple = ()
    text_msg = base[0].lower() + base[1:] if base else "invalid TOML"

    if _is_control(text, offset) and not base.startswith("Unclosed"):
        text_msg = _control_message(text[offset], toml=True)
    elif base.startswith(
        ("Illegal character", "Unterminated string", 'Expected "\'"', "Expected '\"'")
    ):
        kind, start = _open_construct(text, offset, toml=True)
        if kind == "string":
            offset, text_msg = start, _UNTERMINATED
    elif base in ("Unclosed array", "Unclosed inline table"):
        what = "array" if "array" in base else "inline table"
        close = "]" if what == "array" else "}"
        if at_end:
            kind, start = _open_construct(text, len(text), toml=True)
            offset = start if kind == "bracket" else offset
            text_msg = f"this {what} is never closed: add `{close}`"
        elif what == "inline table":
            text_msg = (
                "unclosed inline table: `{ ... }` must close on the line it starts, with no "
                "trailing comma (use a [table] section for longer tables)"
            )
        else:
            text_msg = f"expected `,` or `]` in this array, got `{t.token(offset)}`"
    elif base.startswith(
        ("Cannot overwrite", "Cannot declare", "Cannot mutate", "Cannot redefine")
    ):
        offset, path, text_msg = _toml_duplicate(t, offset)
    elif base.startswith("Duplicate inline table key"):
        text_msg = f"duplicate key {base.split('key ', 1)[1]} in this inline table; keep one"
    elif base == "Invalid value":
        text_msg = _invalid_value(t.token(offset))
    elif base.startswith("Expected newline or end of document"):
        line_start = t.starts[t.where(offset)[0] - 1]
        after = (
            "the table header" if text[line_start:offset].lstrip().startswith("[") else "the value"
        )
        text_msg = f"unexpected `{t.token(offset)}` after {after}; write one `key = value` per line"
    elif base.startswith("Expected '=' after a key"):
        line_start = t.starts[t.where(offset)[0] - 1]
        offset = line_start + len(text[line_start:offset]) - len(text[line_start:offset].lstrip())
        key = text[offset:].split(None, 1)[0] if text[offset:].strip() else ""
        text_msg = (
            f"expected `=` after the key `{key}`; write `key = value` (a key with spaces or "
            "other characters needs quotes)"
        )
    elif base == "Invalid initial character for a key part":
        prev = t.prev_char(offset)
        if text[offset : offset + 1] == "}" and prev >= 0 and text[prev] == ",":
            offset = prev
            text_msg = "trailing comma in an inline table: TOML allows no comma after the last item"
        elif text[offset : offset + 1] in ("\n", "\r", ""):
            text_msg = (
                "unclosed inline table: `{ ... }` must close on the line it starts "
                "(use a [table] section for longer tables)"
            )
        else:
            text_msg = f"expected a key, got `{t.token(offset) or text[offset : offset + 1]}`"
    elif base == "Invalid statement":
        text_msg = "expected `key = value`, a [table] header or a [[array_of_tables]] header"
    line, col = t.where(offset)
    return [Diagnostic("syntax", f"invalid TOML: {text_msg}", path, file, line, col)]


def _invalid_value(tok: str) -> str:
    if not tok:
        return "missing value after `=`"
    if tok.lower() in ("true", "false"):
        return f"invalid value `{tok}`: booleans are lowercase, write {tok.lower()}"
    if _WORD.match(tok):
        return f'invalid value `{tok}`: strings need quotes, write "{tok}"'
    if len(tok) > 1 and tok[-1] in "\"'" and _WORD.match(tok[:-1]):
        return (
            f"invalid value `{tok}`: the string is missing its opening quote, write {tok[-1]}{tok}"
        )
    return (
        f'invalid value `{tok}`: expected a "string", a number, true or false, an array [...] '
        "or an inline table { ... }"
    )


def _toml_duplicate(t: _Text, offset: int) -> tuple[int, tuple, str]:
    """Explain a key or table defined twice: where, and where it was first defined."""
    line, _ = t.where(offset)
    start = t.starts[line - 1]
    state = toml_prefix_state(t.text[:start])
    end = t.text.find("\n", start)
    src = t.text[start : len(t.text) if end < 0 else end]
    scanner = _TomlScanner(src)
    scanner.skip_space()
    key_at = start + scanner.i
    header = scanner.peek() == "["
    if header:
        scanner.i += 2 if scanner.peek(1) == "[" else 1
        path = tuple(scanner.key())
    else:
        path = state.table + tuple(scanner.key())
    first = next(
        (state.positions[path[:n]] for n in range(len(path), 0, -1) if path[:n] in state.positions),
        None,
    )
    where = f" on line {first[0]}" if first else ""
    if header:
        dotted = ".".join(str(p) for p in path)
        msg = f"duplicate table [{dotted}], first defined{where}; write each table once (merge the two)"
    else:
        msg = f"duplicate key, first set{where}; a key may be set only once (remove one of them)"
    return key_at, path, msg


def json_syntax(exc: json.JSONDecodeError, text: str, file: str) -> list[Diagnostic]:
    t = _Text(text)
    offset, base = exc.pos, exc.msg
    msg = base[0].lower() + base[1:]
    if base.startswith("Invalid control character") and _is_control(text, offset):
        msg = _control_message(text[offset], toml=False)
    elif base.startswith(("Invalid control character", "Unterminated string")):
        kind, start = _open_construct(text, offset, toml=False)
        if kind == "string":
            offset = start
        msg = (
            "unterminated string: close the double quote on this line (write \\n for a line break)"
        )
    elif base.startswith(("Expecting property name", "Expecting value")):
        prev = t.prev_char(offset)
        tok = t.token(offset)
        if text[offset : offset + 1] in ("}", "]") and prev >= 0 and text[prev] == ",":
            offset = prev
            msg = "trailing comma: JSON allows no comma after the last item; remove it"
        elif offset >= len(text.rstrip()):
            msg = "the file ends too early: a value or a closing bracket is missing"
        elif tok[:1] == "'":
            msg = 'strings and keys need double quotes ("..."), not single quotes'
        elif base.startswith("Expecting property name"):
            msg = f"expected a key in double quotes, got `{tok or text[offset]}`"
        elif tok in ("True", "False", "None", "TRUE", "FALSE", "NULL"):
            msg = f"invalid value `{tok}`: JSON writes true, false and null in lowercase"
        elif _WORD.match(tok):
            msg = f'invalid value `{tok}`: strings need double quotes, write "{tok}"'
        else:
            msg = f"expected a value, got `{tok or text[offset]}`"
    elif base.startswith("Expecting ',' delimiter"):
        prev = t.prev_char(offset)
        offset = prev + 1 if prev >= 0 else offset
        msg = "missing `,` after this value (items of an object or array are separated by commas)"
    elif base.startswith("Expecting ':' delimiter"):
        msg = "expected `:` after the key"
    elif base.startswith("Extra data"):
        msg = "unexpected text after the end of the spec object; a JSON spec is one {...} object"
    line, col = t.where(offset)
    return [Diagnostic("syntax", f"invalid JSON: {msg}", (), file, line, col)]


def json_duplicate_keys(text: str, file: str) -> list[Diagnostic]:
    out = []
    for path, (line, col), first in json_duplicates(text):
        at = f"line {first[0]}" + (f", column {first[1]}" if first[0] == line else "")
        msg = f"duplicate key, first set on {at}; JSON keys must be unique (remove one of them)"
        out.append(Diagnostic("syntax", msg, path, file, line, col))
    return out
