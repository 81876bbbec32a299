"""Read a spec file (TOML or JSON by extension) into a validated `Spec` with a source map."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import Diagnostic, SpecError
from .models import Spec
from .positions import SourceMap, json_source_map, toml_source_map
from .translate import translate

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _locate_all(diags: list[Diagnostic], smap: SourceMap) -> list[Diagnostic]:
    out = []
    for d in diags:
        if d.line:
            out.append(d)
            continue
        line, col = smap.locate(d.path)
        out.append(Diagnostic(d.code, d.message, d.path, smap.file, line, col))
    return sorted(out, key=lambda d: (d.line, d.col))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_text(text: str, file: str, fmt: str) -> tuple[Any, SourceMap]:
    """Parse TOML or JSON text; syntax errors become located diagnostics."""
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            m = _TOML_POS.search(msg)
            line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
            msg = _TOML_POS.sub("", msg).strip()
            raise SpecError([Diagnostic("syntax", f"invalid TOML: {msg}", (), file, line, col)]) from None
        return data, toml_source_map(file, text)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise SpecError([Diagnostic("syntax", f"invalid JSON: {exc.msg}", (), file, exc.lineno, exc.colno)]) from None
    except ValueError as exc:  # duplicate key
        raise SpecError([Diagnostic("syntax", f"invalid JSON: {exc}", (), file, 1, 1)]) from None
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("syntax", "a JSON spec must be an object {...}", (), file, 1, 1)])
    return data, json_source_map(file, text)


def validate_data(data: Any, smap: SourceMap) -> Spec:
    """Validate parsed data against the spec models; all errors at once, located."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_locate_all(translate(exc, data, Spec), smap)) from None
    spec._source = smap
    return spec


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file. Raises SpecError with located diagnostics."""
    path = Path(path)
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise SpecError([Diagnostic("file", f"a spec file ends in .toml or .json, got {path.name!r}", (), file)])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Diagnostic("file", "no such file", (), file)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Diagnostic("file", f"cannot read the spec: {exc}", (), file)]) from None
    data, smap = parse_text(text, file, suffix[1:])
    return validate_data(data, smap)


def locate(spec: Spec, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Attach file/line/col from the spec's source map to diagnostics raised after validation."""
    smap = spec.source if isinstance(spec.source, SourceMap) else SourceMap("<spec>")
    return _locate_all(diags, smap)
