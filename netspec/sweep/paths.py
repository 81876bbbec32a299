"""User key paths (`model.layers[0].units`) parsed, looked up and set in a resolved spec."""

from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import closest, format_path

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


class PathError(ValueError):
    """A key path that is malformed or names nothing in the base spec (the message says why)."""


def parse_path(text: str) -> tuple:
    """"model.layers[0].units" -> ("model", "layers", 0, "units")."""
    out: list = []
    for piece in text.split("."):
        m = _PART.fullmatch(piece)
        if not m:
            raise PathError(
                f"{text!r} is not a key path: write keys joined by dots, list items as [index], "
                'e.g. "model.layers[0].units"'
            )
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tuple(out)


def check_path(doc: dict, path: tuple) -> None:
    """The key at `path` must exist in the resolved spec `doc` (a key whose default is unset,
    such as train.clip_norm, exists) and hold a single value, not a table or list."""
    node: Any = doc
    for k, part in enumerate(path):
        here = format_path(path[:k]) or "the spec"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise PathError(f"{here} is not a list, so [{part}] names nothing")
            if part >= len(node):
                raise PathError(f"{here} has {len(node)} items (indices 0-{len(node) - 1}), not [{part}]")
        else:
            if node is None:
                raise PathError(f"{here} is not set in the base spec: add it there to search inside it")
            if not isinstance(node, dict):
                raise PathError(f"{here} holds a single value, so .{part} names nothing")
            if part not in node:
                hint = closest(part, list(node))
                fix = f"; did you mean `{hint}`?" if hint else f" (keys there: {', '.join(node)})"
                raise PathError(f"{here} has no key `{part}`{fix}")
        node = node[part]
    if isinstance(node, (dict, list)):
        kind = "a table" if isinstance(node, dict) else "a list"
        raise PathError(f"{format_path(path)} is {kind}: search one of the values inside it")


def with_values(doc: dict, values: dict[tuple, Any]) -> dict:
    """A copy of `doc` with each path set to its value."""
    out = copy.deepcopy(doc)
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return out
