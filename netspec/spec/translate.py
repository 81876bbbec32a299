"""Pydantic validation errors -> user diagnostics with user key paths and fixes.

Pydantic's locations contain discriminator tags (`layers.0.dense.units`); here they are removed by
walking the user's own data alongside, so only keys the user wrote (or should write) remain.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Diagnostic, did_you_mean
from .types import _describe

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "a table",
    "dict_type": "a table",
    "model_attributes_type": "a table",
}
_RANGE_WORDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _user_path(loc: tuple, data: Any, keep_last: bool) -> tuple:
    """Drop the parts of a Pydantic location that are not in the user's data (union tags and
    branch labels). A missing key keeps its last part: it names the key the user must add."""
    out: list = []
    node = data
    for k, part in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                out.append(part)
                node = node[part]
            elif last and keep_last:
                out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif not isinstance(node, (dict, list)):
            break
    return tuple(out)


def _model_at(root: type[BaseModel], path: tuple, data: Any) -> type[BaseModel] | None:
    """The Pydantic model class that validates the table at `path`, if any."""
    ann: Any = root
    node = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            args = [a for a in _flatten_args(ann) if typing.get_origin(a) is list]
            ann = typing.get_args(args[0])[0] if args else None
            continue
        cls = _pick_model(ann, node)
        if cls is None or part not in cls.model_fields:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        ann = cls.model_fields[part].annotation
        if typing.get_origin(ann) is list:
            ann = typing.Annotated[ann, None]
    return _pick_model(ann, node)


def _pick_model(ann: Any, node: Any) -> Any:
    """Find the model class inside an annotation (Optional, list[...], tagged unions)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    members = [a for a in _flatten_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(members) == 1:
        return members[0]
    if isinstance(node, dict) and "type" in node:
        for m in members:
            tag = m.model_fields.get("type")
            if tag is not None and node["type"] in typing.get_args(tag.annotation):
                return m
    return None


def _flatten_args(ann: Any) -> list:
    out = []
    for a in typing.get_args(ann):
        out.append(a)
        out.extend(_flatten_args(a))
    return out


def _message(err: dict, cls: type[BaseModel] | None, parent_cls) -> tuple[str, str]:
    """(code, message) for one Pydantic error."""
    kind = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if kind == "missing":
        return "missing-key", f"missing required key `{key}`"
    if kind == "extra_forbidden":
        allowed = sorted(parent_cls.model_fields) if parent_cls else []
        hint = did_you_mean(key, allowed)
        listing = f" (allowed: {', '.join(allowed)})" if allowed and not hint else ""
        return "unknown-key", f"unknown key `{key}`{hint}{listing}"
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = did_you_mean(got, tags) if isinstance(got, str) else ""
        what = "layer type" if "dense" in tags else "type"
        return "unknown-type", f"unknown {what} {_describe(got)}{hint} (one of: {', '.join(tags)})"
    if kind == "union_tag_not_found":
        return "missing-key", "missing required key `type`"
    if kind == "literal_error":
        expected = [s.strip(" '") for s in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
        expected = [e for e in expected if e]
        hint = did_you_mean(got, expected) if isinstance(got, str) else ""
        return "value", f"{_describe(got)} is not allowed{hint} (one of: {', '.join(expected)})"
    if kind == "finite_number":
        return "value", f"must be a finite number, got {_describe(got)}"
    if kind in _TYPE_WORDS:
        return "type", f"expected {_TYPE_WORDS[kind]}, got {_describe(got)}"
    if kind in _RANGE_WORDS:
        limit = next(iter(ctx.values()), "?")
        return "value", f"must be {_RANGE_WORDS[kind]} {limit}, got {_describe(got)}"
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length", ctx.get("max_length"))
        word = "at least" if kind == "too_short" else "at most"
        return "value", f"needs {word} {n} item(s), got {ctx.get('actual_length')}"
    if kind == "string_pattern_mismatch":
        return "value", f"{_describe(got)} must match {ctx.get('pattern')} (letters, digits, _ . -)"
    if kind == "value_error":
        return "value", str(ctx.get("error", err["msg"]))
    if kind in ("size_type", "dim_type"):
        return "type", err["msg"]
    return "value", err["msg"]


def translate(exc: ValidationError, data: Any, root: type[BaseModel]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    seen: set = set()
    for err in exc.errors(include_url=False):
        keep_last = err["type"] in ("missing", "extra_forbidden")
        path = _user_path(tuple(err["loc"]), data, keep_last)
        if err["type"] == "union_tag_invalid":  # point at the `type` key, name its value
            path = path + ("type",)
            err = {**err, "input": err["input"].get("type") if isinstance(err["input"], dict) else None}
        parent = _model_at(root, path[:-1] if keep_last else path, data)
        code, message = _message(err, None, parent)
        if (path, code) in seen:  # one error per key (unions report once per branch)
            continue
        seen.add((path, code))
        diags.append(Diagnostic(code=code, message=message, path=path))
    return diags
