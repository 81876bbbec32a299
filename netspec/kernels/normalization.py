"""batch_norm: normalize per feature (2-D input) or per channel (axis attr); running stats at
inference. Running mean/var are "state" params: saved and exported, never trained."""

from __future__ import annotations

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, register
from .shapes import fixed


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    fixed(ins[0][attrs["axis"]], "the channel axis of a batch_norm layer's input")
    return ins[0]


def params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
    c = ins[0][attrs["axis"]]
    return {
        "gamma": ParamSpec((c,), "ones", kind="weight"),
        "beta": ParamSpec((c,), "zeros", kind="bias"),
        "running_mean": ParamSpec((c,), "zeros", kind="state"),
        "running_var": ParamSpec((c,), "ones", kind="state"),
    }


def flops(attrs, ins, out) -> int:
    n = 1
    for d in out[1:]:
        n *= d
    return 2 * n


register(OpDef("batch_norm", infer, params, flops))
