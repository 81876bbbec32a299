"""Read a spec file (TOML or JSON by extension) into a validated `Spec` with a source map."""

from __future__ import annotations

import json
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
    except RecursionError:
        raise SpecError(
            [Diagnostic("syntax", f"invalid {fmt.upper()}: nested too deeply", (), file, 1, 1)]
        ) from None


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


def validate_data(data: Any, smap: SourceMap) -> Spec:
    """Validate parsed data against the spec models; all errors at once, located."""
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
