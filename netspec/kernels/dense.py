"""dense: y = x @ W + b over the last axis. W is (in, out)."""

from __future__ import annotations

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, ShapeError, register
from .shapes import fixed


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    (x,) = ins
    if len(x) < 2:
        raise ShapeError("dense needs at least one feature axis")
    fixed(x[-1], "the last axis of a dense layer's input")
    return (*x[:-1], attrs["units"])


def params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
    n_in, units = ins[0][-1], attrs["units"]
    out = {"weight": ParamSpec((n_in, units), attrs["init"], n_in, units)}
    if attrs["use_bias"]:
        out["bias"] = ParamSpec((units,), "zeros", n_in, units, kind="bias")
    return out


def flops(attrs: dict, ins: list[tuple[int, ...]], out: tuple[int, ...]) -> int:
    rows = 1
    for d in out[1:-1]:
        rows *= d
    return rows * (2 * ins[0][-1] * attrs["units"] + (attrs["units"] if attrs["use_bias"] else 0))


register(OpDef("dense", infer, params, flops))
