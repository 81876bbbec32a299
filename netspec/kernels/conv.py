"""conv (1-D and 2-D, channels-first): input (batch, C, *spatial), weight (F, C, *kernel).

Attributes (normalized by the compiler): nd, filters, kernel, strides, dilations, padding
(spec value), pads (ONNX order: begins then ends), use_bias, init.
"""

from __future__ import annotations

from math import prod

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, register
from .shapes import fixed, need_rank, resolve_pads, window_out


def resolve(attrs: dict, ins: list[Shape]) -> dict:
    nd = attrs["nd"]
    need_rank(ins[0], nd + 2, f"conv{nd}d", "(batch, channels, " + ", ".join(["size"] * nd) + ")")
    spatial = ins[0][2:]
    pads = resolve_pads(attrs["padding"], spatial, attrs["kernel"], attrs["strides"], attrs["dilations"])
    return {**attrs, "pads": pads}


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    nd = attrs["nd"]
    fixed(x[1], f"the channel axis of a conv{nd}d layer's input")
    pads = attrs["pads"]
    spatial = tuple(
        window_out(x[2 + i], attrs["kernel"][i], attrs["strides"][i], pads[i] + pads[nd + i],
                   attrs["dilations"][i], "kernel_size")
        for i in range(nd)
    )  # fmt: skip
    return (x[0], attrs["filters"], *spatial)


def params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
    c, f, k = ins[0][1], attrs["filters"], attrs["kernel"]
    fan_in, fan_out = c * prod(k), f * prod(k)
    out = {"weight": ParamSpec((f, c, *k), attrs["init"], fan_in, fan_out)}
    if attrs["use_bias"]:
        out["bias"] = ParamSpec((f,), "zeros", fan_in, fan_out, kind="bias")
    return out


def flops(attrs: dict, ins, out) -> int:
    per_output = 2 * ins[0][1] * prod(attrs["kernel"]) + (1 if attrs["use_bias"] else 0)
    return prod(out[1:]) * per_output


register(OpDef("conv", infer, params, flops, resolve=resolve))
