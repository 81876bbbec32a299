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
from .rowwise import NARROW, col_sum, row_max, row_sum
from .workspace import scratch, shared_zeros


def relu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out <- max(x, 0); out may be x. Against an array of zeros (see shared_zeros: ~3-4x
    faster than against the scalar 0)."""
    return np.maximum(x, shared_zeros(out.shape, out.dtype), out=out)


def same_shape(attrs: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def relu_forward(attrs, xs, params, ctx):
    x = xs[0]
    y = relu(x, scratch(ctx, "y", x.shape, x.dtype))
    return y, y


def relu_backward(attrs, dy, y, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    mask = np.greater(y, 0, out=scratch(ctx, "mask", y.shape, np.bool_))
    return [np.multiply(dy, mask, out=scratch(ctx, "dx", y.shape, dy.dtype))]


def leaky_relu(x: np.ndarray, alpha: float, out: np.ndarray, scaled: np.ndarray | None = None) -> np.ndarray:
    """out <- x where x > 0 else alpha * x. For alpha <= 1 that is max(x, alpha * x), else the
    min: exact, and ~15x faster than copying x into alpha * x `where` x > 0 (numpy's masked
    copy branches on each element of a random mask). alpha * x goes to `scaled` (default out,
    which then must not be x). At alpha 0, x * (x > 0): max(inf, 0 * inf) would be nan."""
    if alpha == 0:
        return np.multiply(x, np.greater(x, 0), out=out)
    scaled = np.multiply(x, alpha, out=out if scaled is None else scaled)
    return (np.maximum if alpha <= 1 else np.minimum)(x, scaled, out=out)


def leaky_slope(pos: np.ndarray, alpha: float, out: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """out <- 1 where pos else alpha, exactly, without a masked copy (see leaky_relu); `fill`
    is scratch of out's shape."""
    np.copyto(out, pos)  # {0, 1}
    if alpha <= 1:  # max({0, 1}, alpha) = {alpha, 1}
        fill.fill(alpha)
    else:  # max(alpha * (1 - {0, 1}), 1) = {1, alpha}
        np.subtract(1, out, out=out)
        out *= alpha
        fill.fill(1)
    return np.maximum(out, fill, out=out)


def leaky_relu_forward(attrs, xs, params, ctx):
    x = xs[0]
    pos = np.greater(x, 0, out=scratch(ctx, "pos", x.shape, np.bool_))
    y = leaky_relu(x, attrs["alpha"], scratch(ctx, "y", x.shape, x.dtype))
    return y, pos


def leaky_relu_backward(attrs, dy, pos, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    slope = scratch(ctx, "slope", dy.shape, dy.dtype)
    leaky_slope(pos, attrs["alpha"], slope, scratch(ctx, "fill", dy.shape, dy.dtype))
    return [np.multiply(dy, slope, out=scratch(ctx, "dx", dy.shape, dy.dtype))]


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
    x2 = x.reshape(-1, x.shape[-1])
    if x2.dtype.kind == "f" and 1 < x2.shape[1] <= NARROW and x2.shape[0] > 1:
        # few classes: on the transposed copy every step runs along the long batch axis, not
        # one short row at a time (measured, 256 x 10 float32: 9.9 vs 12.1 us)
        zt = np.ascontiguousarray(x2.T)
        zt -= zt.max(axis=0)
        np.exp(zt, out=zt)
        zt /= col_sum(zt, np.empty(zt.shape[1], dtype=zt.dtype))
        return np.ascontiguousarray(zt.T).reshape(x.shape)
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
