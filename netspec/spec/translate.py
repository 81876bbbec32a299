"""Pydantic validation errors -> user diagnostics with user key paths and fixes.

Pydantic's locations contain discriminator tags (`layers.0.dense.units`); here they are removed by
walking the user's own data alongside, so only keys the user wrote (or should write) remain.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Diagnostic
from . import messages as W
from .types import _describe


def _user_path(loc: tuple, data: Any, keep_last: bool) -> tuple:
    """Drop the parts of a Pydantic location that are not in the user's data (union tags and
    branch labels). A missing key keeps its last part: it names the key the user must add."""
    out: list = []
    node = data
    for k, part in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str):
            is_tag = part == node.get("type") and not (last and part in node)
            if part in node and not is_tag:
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
        if typing.get_origin(ann) is dict:  # a table of user-named entries (a sweep's [space])
            node = node.get(part) if isinstance(node, dict) else None
            ann = typing.get_args(ann)[1]
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


def _message(err: dict, path: tuple, parent, toml: bool) -> tuple[str, str]:
    """(code, message) for one Pydantic error at the user's `path`."""
    kind = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    if kind == "missing":
        return "missing-key", W.missing_key(key, parent)
    if kind == "extra_forbidden":
        return "unknown-key", W.unknown_key(key, parent, toml)
    if kind == "union_tag_invalid":
        return W.unknown_tag(got, W._choices(str(ctx.get("expected_tags", ""))), path)
    if kind == "union_tag_not_found":
        return "missing-key", W.missing_tag(path, err.get("table"))
    if kind == "literal_error":
        return W.literal(got, str(ctx.get("expected", "")), key)
    if kind == "finite_number":
        return (
            "value",
            f"must be a finite number, got {_describe(got)}; nan and inf are not allowed",
        )
    if W.is_type(kind):
        return "type", W.wrong_type(kind, got, key, path, W.tags_for(path))
    if W.is_range(kind):
        return "value", W.out_of_range(kind, ctx, got, key)
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return "value", _length(kind, ctx, got, key)
    if kind == "string_pattern_mismatch":
        return "value", (
            f"{_describe(got)} is not a valid name: start with a letter or digit and use only "
            "letters, digits, `_`, `.` and `-` (it names run folders and exported files)"
        )
    if kind == "value_error":
        return "value", str(ctx.get("error", err["msg"]))
    if kind in ("size_type", "dim_type", "columns_type"):
        return "type", err["msg"]
    if kind.startswith(("size_", "dim_", "padding")):  # netspec's own messages (spec.types)
        return "value", err["msg"]
    msg = str(err["msg"]).replace("Input should be", "expected").replace("Input should", "expected")
    return "value", f"{msg[:1].lower()}{msg[1:]}, got {_describe(got)}"


def _length(kind: str, ctx: dict, got: Any, key: str) -> str:
    short = kind.endswith("too_short")
    if short and key == "layers":
        return "needs at least one layer: add a [[model.layers]] table"
    if short and key == "input_shape":
        return "needs at least one dimension, e.g. input_shape = [4]"
    n = ctx.get("min_length", ctx.get("max_length"))
    what = "characters" if isinstance(got, str) else "items"
    actual = len(got) if hasattr(got, "__len__") else "?"
    return f"needs {'at least' if short else 'at most'} {n} {what}, got {actual}"


def translate(
    exc: ValidationError, data: Any, root: type[BaseModel], fmt: str = "toml"
) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    seen: set = set()
    for err in exc.errors(include_url=False):
        kind = err["type"]
        keep_last = kind in ("missing", "extra_forbidden")
        path = _user_path(tuple(err["loc"]), data, keep_last)
        if kind in ("union_tag_invalid", "union_tag_not_found"):  # point at the `type` key
            path = path + ("type",)
            table = err["input"]
            err = {
                **err,
                "input": table.get("type") if isinstance(table, dict) else None,
                "table": table,
            }
        parent = _model_at(root, path[:-1] if keep_last else path, data)
        code, message = _message(err, path, parent, fmt == "toml")
        if path in seen:  # one error per key (unions report once per branch)
            continue
        seen.add(path)
        diags.append(Diagnostic(code=code, message=message, path=path))
    return diags
