"""Pooling: max_pool / avg_pool (windows over spatial axes; avg excludes padding from the count,
as Keras and ONNX count_include_pad=0), global_avg_pool / global_max_pool (over attrs["axes"])."""

from __future__ import annotations

from math import prod

from ..ir.graph import Shape
from .registry import OpDef, ShapeError, register
from .shapes import need_rank, resolve_pads, window_out


def resolve(attrs: dict, ins: list[Shape]) -> dict:
    nd = attrs["nd"]
    need_rank(ins[0], nd + 2, f"pool{nd}d", "(batch, channels, " + ", ".join(["size"] * nd) + ")")
    dil = (1,) * nd
    pads = resolve_pads(attrs["padding"], ins[0][2:], attrs["kernel"], attrs["strides"], dil)
    for i in range(nd):
        if max(pads[i], pads[nd + i]) >= attrs["kernel"][i]:
            raise ShapeError("padding must be smaller than the pool size", "padding")
    return {**attrs, "pads": pads}


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    x, nd, pads = ins[0], attrs["nd"], attrs["pads"]
    spatial = tuple(
        window_out(x[2 + i], attrs["kernel"][i], attrs["strides"][i], pads[i] + pads[nd + i], 1, "pool_size")
        for i in range(nd)
    )
    return (x[0], x[1], *spatial)


def window_flops(attrs: dict, ins, out) -> int:
    return prod(out[1:]) * prod(attrs["kernel"])


def global_infer(attrs: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    if len(x) < 3:
        raise ShapeError(
            f"global pooling needs spatial or time axes to pool over, got shape "
            f"({', '.join(map(str, x))})"
        )
    return tuple(d for i, d in enumerate(x) if i not in attrs["axes"])


def global_flops(attrs: dict, ins, out) -> int:
    return prod(ins[0][1:])


register(OpDef("max_pool", infer, flops=window_flops, resolve=resolve))
register(OpDef("avg_pool", infer, flops=window_flops, resolve=resolve))
register(OpDef("global_avg_pool", global_infer, flops=global_flops))
register(OpDef("global_max_pool", global_infer, flops=global_flops))
