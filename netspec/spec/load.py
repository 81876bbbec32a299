"""Read a spec file (TOML or JSON by extension) into a validated `Spec` with a source map."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import safe_io
from ..errors import Diagnostic, SpecError
from .models import Spec
from .positions import SourceMap, json_source_map, toml_source_map
from .syntax import json_duplicate_keys, json_syntax, toml_syntax
from .translate import translate


def _locate_all(diags: list[Diagnostic], smap: SourceMap) -> list[Diagnostic]:
    out = []
    for d in diags:
        if d.line:
            out.append(d)
            continue
        line, col = smap.locate(d.path)
        out.append(Diagnostic(d.code, d.message, d.path, smap.file, line, col))
    return sorted(out, key=lambda d: (d.line, d.col))


def parse_text(text: str, file: str, fmt: str) -> tuple[Any, SourceMap]:
    """Parse TOML or JSON text; syntax errors become located diagnostics."""
    text = text.removeprefix("\ufeff")
    try:
        return _parse(text, file, fmt)
    except ValueError as exc:  # not a syntax error: Python's cap on int digits (CVE-2020-10735)
        if "integer string conversion" not in str(exc):
            raise
        raise SpecError([_huge_int(text, file)]) from None
    except RecursionError:
        raise SpecError(
            [Diagnostic("syntax", f"invalid {fmt.upper()}: nested too deeply", (), file, 1, 1)]
        ) from None


_DIGITS = re.compile(r"[0-9][0-9_]{4000,}")


def _huge_int(text: str, file: str) -> Diagnostic:
    m = _DIGITS.search(text)
    line = text.count("\n", 0, m.start()) + 1 if m else 1
    col = m.start() - text.rfind("\n", 0, m.start()) if m else 1
    n = len(m.group().replace("_", "")) if m else 0
    return Diagnostic("value", f"an integer with {n} digits: far too large for any setting "
                      f"(Python reads at most {sys.get_int_max_str_digits()} digits)", (), file, line, col)  # fmt: skip


def _parse(text: str, file: str, fmt: str) -> tuple[Any, SourceMap]:
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(toml_syntax(exc, text, file)) from None
        return data, toml_source_map(file, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(json_syntax(exc, text, file)) from None
    duplicates = json_duplicate_keys(text, file)
    if duplicates:
        raise SpecError(duplicates)
    if not isinstance(data, dict):
        raise SpecError(
            [
                Diagnostic(
                    "syntax", "a JSON spec must be one object {...} at the top", (), file, 1, 1
                )
            ]
        )
    return data, json_source_map(file, text)


INT_LIMIT = 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar_problems(value: Any, path: tuple, out: list[Diagnostic]) -> None:
    """Values no setting can hold, found before validation so no later stage trips on them:
    integers beyond 64 bits, and strings with lone surrogates (JSON "\\ud800": not Unicode text,
    so no file, name or message could hold them)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                out.append(Diagnostic("value", "this key holds a lone surrogate escape (\\ud800-\\udfff), "
                                      "which is not valid Unicode text", path))  # fmt: skip
            else:
                _scalar_problems(item, (*path, key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _scalar_problems(item, (*path, i), out)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_LIMIT:
        out.append(Diagnostic("value", f"the integer is too large: at most {INT_LIMIT:,} (2**63 - 1)", path))
    elif isinstance(value, str) and _LONE_SURROGATE.search(value):
        at = _LONE_SURROGATE.search(value).start()
        out.append(Diagnostic("value", f"the string holds a lone surrogate escape \\u{ord(value[at]):04x} at "
                              f"character {at + 1}, which is not valid Unicode text; remove it", path))  # fmt: skip


def validate_data(data: Any, smap: SourceMap) -> Spec:
    """Validate parsed data against the spec models; all errors at once, located."""
    problems: list[Diagnostic] = []
    _scalar_problems(data, (), problems)
    if problems:
        raise SpecError(_locate_all(problems, smap))
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        fmt = "json" if smap.file.lower().endswith(".json") else "toml"
        raise SpecError(_locate_all(translate(exc, data, Spec, fmt), smap)) from None
    spec._source = smap
    return spec


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file. Raises SpecError with located diagnostics."""
    path = Path(path)
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise SpecError(
            [Diagnostic("file", f"a spec file ends in .toml or .json, got {path.name!r}", (), file)]
        )
    text = read_spec_text(path, file)
    data, smap = parse_text(text, file, suffix[1:])
    return validate_data(data, smap)


def read_spec_text(path: Path, file: str) -> str:
    """The spec's text: a regular file under the size cap, UTF-8 (a byte-order mark is not part
    of the spec); a bad byte is reported at its line and column."""
    fail = lambda m: SpecError([Diagnostic("file", m, (), file)])  # noqa: E731
    raw = safe_io.read_bytes(path, limit=safe_io.SPEC_LIMIT, what="spec file", error=fail)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = safe_io.undecodable_position(raw, exc)
        message = safe_io.undecodable_reason(raw, exc)
        raise SpecError([Diagnostic("encoding", message, (), file, line, col)]) from None


def locate(spec: Spec, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Attach file/line/col from the spec's source map to diagnostics raised after validation."""
    smap = spec.source if isinstance(spec.source, SourceMap) else SourceMap("<spec>")
    return _locate_all(diags, smap)
