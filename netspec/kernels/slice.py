"""slice: features [start, stop) of the last axis. It splits an lstm encoder's state output
[h_T, c_T] so the layer's own output stays h_T while a decoder reads both (initial_state)."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, register


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    return (*ins[0][:-1], attrs["stop"] - attrs["start"])


def forward(attrs, xs, params, ctx):
    return np.ascontiguousarray(xs[0][..., attrs["start"] : attrs["stop"]]), xs[0].shape


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    dx = np.zeros(cache, dtype=dy.dtype)
    dx[..., attrs["start"] : attrs["stop"]] = dy
    return [dx]


register(OpDef("slice", infer, flops=lambda attrs, ins, out: 0, forward=forward, backward=backward))
