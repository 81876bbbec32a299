"""Shape-only and stochastic ops: dropout, gaussian_noise, flatten, reshape; and embedding."""

from __future__ import annotations

from math import prod

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, ShapeError, register
from .shapes import fixed, format_dims


def same_shape(attrs: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def _free(attrs, ins, out) -> int:
    return 0


def flatten_infer(attrs: dict, ins: list[Shape]) -> Shape:
    (x,) = ins
    dims = [fixed(d, "every axis of a flatten layer's input") for d in x[1:]]
    return (x[0], prod(dims))


def reshape_infer(attrs: dict, ins: list[Shape]) -> Shape:
    (x,) = ins
    dims = [fixed(d, "every axis of a reshape layer's input") for d in x[1:]]
    target = list(attrs["shape"])
    total = prod(dims)
    if target.count(-1) > 1:
        raise ShapeError("at most one dimension may be -1", "shape")
    if 0 in target:
        raise ShapeError("dimensions must be >= 1 (or -1 for one inferred dimension)", "shape")
    known = prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ShapeError(f"cannot reshape {total} values into {target}", "shape")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(
            f"cannot reshape {format_dims(x)} ({total} values per sample) into {target} "
            f"({known} values)",
            "shape",
        )
    return (x[0], *target)


def embedding_infer(attrs: dict, ins: list[Shape]) -> Shape:
    return (*ins[0], attrs["dim"])


def embedding_params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
    v, d = attrs["vocab_size"], attrs["dim"]
    return {"weight": ParamSpec((v, d), attrs["init"], v, d)}


register(OpDef("dropout", same_shape, inference_identity=True))
register(OpDef("gaussian_noise", same_shape, inference_identity=True))
register(OpDef("flatten", flatten_infer, flops=_free))
register(OpDef("reshape", reshape_infer, flops=_free))
register(OpDef("embedding", embedding_infer, embedding_params, flops=_free))
