"""dense: y = x @ W + b over the last axis. W is (in, out)."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Shape
from .activations import relu
from .registry import OpDef, ParamSpec, ShapeError, register
from .rowwise import col_sum
from .shapes import fixed
from .workspace import repeated_rows, scratch


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


def forward(attrs, xs, params, ctx):
    """Rank >= 3 inputs are viewed as 2-D (rows, in) so the product is one GEMM."""
    x = xs[0]
    w = params["weight"]
    x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
    y = np.matmul(x2, w, out=scratch(ctx, "y", (x2.shape[0], w.shape[1]), np.result_type(x2, w)))
    b = params.get("bias")
    if b is not None:
        # training moves the bias every step: no copy to build, and no stamp to take (~1 us)
        tile = None if ctx is None or ctx.training else repeated_rows(ctx, "bias_rows", b, y.shape[0])
        np.add(y, b if tile is None else tile, out=y)
    if ctx is not None and ctx.relu_output:  # a relu fused in by the plan (inference)
        relu(y, y)
    return (y if x.ndim == 2 else y.reshape(*x.shape[:-1], w.shape[1])), (x2, x.shape)


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    x2, x_shape = cache
    w = params["weight"]
    dy2 = dy.reshape(-1, w.shape[1])
    if "weight" in grads:
        np.matmul(x2.T, dy2, out=grads["weight"])
    if "bias" in grads:
        col_sum(dy2, grads["bias"])
    if not need_dx[0]:
        return [None]
    dx = np.matmul(dy2, w.T, out=scratch(ctx, "dx", (dy2.shape[0], w.shape[0]), np.result_type(dy2, w)))
    return [dx.reshape(x_shape)]


register(OpDef("dense", infer, params, flops, forward=forward, backward=backward))
