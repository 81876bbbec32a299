"""Elementwise activations and softmax (over the last axis).

Caches hold the forward OUTPUT where the derivative is a function of it (relu, sigmoid, tanh,
softmax), so the executor must not write into a node's output after the forward pass.
relu's forward and backward write into the step's scratch buffers (workspace.py) and its
backward keeps the mask in a reused bool buffer: two passes, no allocation.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, register
from .rowwise import row_max, row_sum
from .workspace import scratch


def same_shape(attrs: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def relu_forward(attrs, xs, params, ctx):
    x = xs[0]
    y = np.maximum(x, 0, out=scratch(ctx, "y", x.shape, x.dtype))
    return y, y


def relu_backward(attrs, dy, y, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    mask = np.greater(y, 0, out=scratch(ctx, "mask", y.shape, np.bool_))
    return [np.multiply(dy, mask, out=scratch(ctx, "dx", y.shape, dy.dtype))]


def leaky_relu_forward(attrs, xs, params, ctx):
    x = xs[0]
    pos = np.greater(x, 0, out=scratch(ctx, "pos", x.shape, np.bool_))
    y = np.multiply(x, attrs["alpha"], out=scratch(ctx, "y", x.shape, x.dtype))
    np.copyto(y, x, where=pos)
    return y, pos


def leaky_relu_backward(attrs, dy, pos, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    dx = np.multiply(dy, attrs["alpha"], out=scratch(ctx, "dx", dy.shape, dy.dtype))
    np.copyto(dx, dy, where=pos)
    return [dx]


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-x)): small outputs keep their relative precision (unlike
    0.5 + 0.5 * tanh(x / 2)); exp overflows to inf for x << 0, giving the right limit 0, so the
    overflow warning is silenced. Half the time of the branchy exp(-|x|) form."""
    y = np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1
    np.reciprocal(y, out=y)
    return y


def sigmoid_forward(attrs, xs, params, ctx):
    y = sigmoid(xs[0], out=scratch(ctx, "y", xs[0].shape, xs[0].dtype))
    return y, y


def sigmoid_backward(attrs, dy, y, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    dx = np.subtract(1, y, out=scratch(ctx, "dx", y.shape, dy.dtype))
    dx *= y
    dx *= dy
    return [dx]


def tanh_forward(attrs, xs, params, ctx):
    y = np.tanh(xs[0], out=scratch(ctx, "y", xs[0].shape, xs[0].dtype))
    return y, y


def tanh_backward(attrs, dy, y, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    dx = np.square(y, out=scratch(ctx, "dx", y.shape, dy.dtype))
    np.subtract(1, dx, out=dx)
    dx *= dy
    return [dx]


def softmax(x: np.ndarray) -> np.ndarray:
    y = x - row_max(x)
    np.exp(y, out=y)
    y /= row_sum(y)
    return y


def softmax_forward(attrs, xs, params, ctx):
    y = softmax(xs[0])
    return y, y


def softmax_backward(attrs, dy, y, params, grads, need_dx, ctx):
    # dx = y * (dy - sum(dy * y)) with one full-size temporary.
    if not need_dx[0]:
        return [None]
    dx = np.multiply(dy, y)
    np.subtract(dy, row_sum(dx), out=dx)
    dx *= y
    return [dx]


KERNELS = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "softmax": (softmax_forward, softmax_backward),
}

for _name, (_fwd, _bwd) in KERNELS.items():
    register(OpDef(_name, same_shape, forward=_fwd, backward=_bwd))
