"""Field types shared by the spec models, each with one clean error message.

Plain unions such as `int | list[int]` make Pydantic report one error per branch; these custom
validators report a single message that states the rule and the value received.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..errors import did_you_mean

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
INITIALIZERS = (
    "uniform_fan_in",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "normal",
    "zeros",
)
Activation = Literal["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]
Initializer = Literal[
    "uniform_fan_in", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "normal", "zeros"
]
PosInt = Annotated[int, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _describe(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"`{value}`"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"`{value}`"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _size(value: Any, *, min_value: int = 1) -> int | list[int]:
    """An int, or a non-empty list of ints, each >= min_value."""
    items = value if isinstance(value, list) else [value]
    bad = [v for v in items if not _is_int(v)][:1] if items else [value]
    if bad:
        bad = bad[0]  # may itself be None (`[null]`), so no None sentinel here
        raise PydanticCustomError(
            "size_type",
            "expected a whole number or a list of whole numbers, got {got}",
            {"got": _describe(bad)},
        )
    if any(v < min_value for v in items):
        raise PydanticCustomError(
            "size_range", "every size must be >= {min}, got {got}", {"min": min_value, "got": value}
        )
    return value


def _padding(value: Any) -> str | int | list[int]:
    if isinstance(value, str):
        if value not in ("valid", "same"):
            raise PydanticCustomError(
                "padding",
                'padding must be "valid", "same", a whole number or a list of them, got "{got}"{hint}',
                {"got": value, "hint": did_you_mean(value, ("valid", "same"), quote='"')},
            )
        return value
    return _size(value, min_value=0)


def _dim(value: Any) -> int | str:
    if _is_int(value):
        if value < 1:
            raise PydanticCustomError("dim_range", "dimensions must be >= 1, got {got}", {"got": value})
        return value
    if isinstance(value, str) and _NAME.match(value):
        if value == "batch":
            raise PydanticCustomError(
                "dim_batch",
                '"batch" is implicit and must not be written in the per-sample shape',
                {},
            )
        return value
    raise PydanticCustomError(
        "dim_type",
        "a dimension is a whole number >= 1 or a name such as \"time\", got {got}",
        {"got": _describe(value)},
    )


def _columns(value: Any) -> str | list[str]:
    """A column name, or a non-empty list of distinct names (several targets)."""
    items = value if isinstance(value, list) else [value]
    bad = next((v for v in items if not isinstance(v, str)), None) if items else value
    if not items or bad is not None:
        raise PydanticCustomError(
            "columns_type",
            'expected a column name or a non-empty list of them (target = ["a", "b"]), got {got}',
            {"got": "an empty list" if value == [] else _describe(bad)},
        )
    return value


Columns = Annotated[
    Any,
    BeforeValidator(_columns),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}),
]
Size = Annotated[Any, BeforeValidator(_size)]
Padding = Annotated[Any, BeforeValidator(_padding)]
Dim = Annotated[Any, BeforeValidator(_dim)]
