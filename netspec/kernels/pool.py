"""Pooling: max_pool / avg_pool (windows over spatial axes; avg excludes padding from the count,
as Keras and ONNX count_include_pad=0), global_avg_pool / global_max_pool (over attrs["axes"]).

Kernels loop over the window offsets, each step one strided slice of the whole batch
(np.maximum / add): much faster than reshaping into windows or argmax over a window view
(DESIGN.md section 4). Max pools pad with -inf. Ties in a max (window or global) send the whole
gradient to ONE element: the first maximum in row-major window order (as PyTorch's max pools),
so the gradient sums to dy.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, ShapeError, register
from .shapes import need_rank, resolve_pads, window_out
from .windows import Window, from_2d, window_2d


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
        window_out(
            x[2 + i],
            attrs["kernel"][i],
            attrs["strides"][i],
            pads[i] + pads[nd + i],
            1,
            "pool_size",
        )
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


# --- max_pool ---------------------------------------------------------------------------------


def max_forward(attrs, xs, params, ctx):
    win, x = window_2d(attrs, xs[0], dilated=False)
    xp = win.pad(x, -np.inf)
    y = None
    for _, _, rows, cols in win.taps():
        if y is None:
            y = xp[:, :, rows, cols].copy()
        else:
            np.maximum(y, xp[:, :, rows, cols], out=y)
    return from_2d(y, attrs["nd"]), (win, xp, y)


def max_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    win, xp, y = cache
    dy = dy.reshape(y.shape)
    dxp = np.zeros(xp.shape, dtype=dy.dtype)
    taken = None  # per output: its window's gradient already went to an earlier (first) max
    for _, _, rows, cols in win.taps():
        hit = xp[:, :, rows, cols] == y
        if taken is None:
            taken = hit
        else:
            hit &= ~taken
            taken |= hit
        dxp[:, :, rows, cols] += dy * hit
    return [_unpad(dxp, win, attrs["nd"])]


# --- avg_pool ---------------------------------------------------------------------------------


def _counts(win: Window, dtype) -> np.ndarray:
    """(Ho, Wo) number of real (non-padding) elements under each window."""
    per_axis = []
    for a in range(2):
        starts = np.arange(win.out_hw[a]) * win.strides[a] - win.pads[a]
        ends = np.minimum(starts + win.kernel[a], win.in_hw[a])
        per_axis.append(ends - np.maximum(starts, 0))
    return np.outer(*per_axis).astype(dtype)


def avg_forward(attrs, xs, params, ctx):
    win, x = window_2d(attrs, xs[0], dilated=False)
    xp = win.pad(x)
    y = None
    for _, _, rows, cols in win.taps():
        if y is None:
            y = xp[:, :, rows, cols].copy()
        else:
            y += xp[:, :, rows, cols]
    counts = _counts(win, x.dtype)
    y /= counts
    return from_2d(y, attrs["nd"]), (win, xp.shape, counts)


def avg_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    win, padded_shape, counts = cache
    g = dy.reshape(*padded_shape[:2], *win.out_hw) / counts
    dxp = np.zeros(padded_shape, dtype=dy.dtype)
    for _, _, rows, cols in win.taps():
        dxp[:, :, rows, cols] += g
    return [_unpad(dxp, win, attrs["nd"])]


def _unpad(dxp: np.ndarray, win: Window, nd: int) -> np.ndarray:
    dx = win.crop(dxp)
    if any(win.pads):
        dx = np.ascontiguousarray(dx)
    return from_2d(dx, nd)


# --- global pools -----------------------------------------------------------------------------


def _axes(attrs: dict, ndim: int) -> tuple[int, ...]:
    return tuple(sorted(a % ndim for a in attrs["axes"]))


def global_avg_forward(attrs, xs, params, ctx):
    x = xs[0]
    axes = _axes(attrs, x.ndim)
    return x.mean(axis=axes), (x.shape, axes)


def global_avg_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    shape, axes = cache
    dx = np.empty(shape, dtype=dy.dtype)
    dx[...] = np.expand_dims(dy, axes) / prod(shape[a] for a in axes)
    return [dx]


def global_max_forward(attrs, xs, params, ctx):
    """The pooled axes are moved last and flattened, so argmax (first maximum) picks the one
    element per output that receives the gradient."""
    x = xs[0]
    axes = _axes(attrs, x.ndim)
    perm = [a for a in range(x.ndim) if a not in axes] + list(axes)
    flat = x.transpose(perm).reshape(*(x.shape[a] for a in perm[: x.ndim - len(axes)]), -1)
    idx = np.argmax(flat, axis=-1)[..., None]
    y = np.take_along_axis(flat, idx, axis=-1)[..., 0]
    return y, (idx, flat.shape, [x.shape[a] for a in perm], perm)


def global_max_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    idx, flat_shape, moved_shape, perm = cache
    dflat = np.zeros(flat_shape, dtype=dy.dtype)
    np.put_along_axis(dflat, idx, dy[..., None], axis=-1)
    dx = dflat.reshape(moved_shape).transpose(np.argsort(perm))
    return [np.ascontiguousarray(dx)]


register(OpDef("max_pool", infer, flops=window_flops, forward=max_forward, backward=max_backward,
               resolve=resolve))  # fmt: skip
register(OpDef("avg_pool", infer, flops=window_flops, forward=avg_forward, backward=avg_backward,
               resolve=resolve))  # fmt: skip
register(OpDef("global_avg_pool", global_infer, flops=global_flops,
               forward=global_avg_forward, backward=global_avg_backward))  # fmt: skip
register(OpDef("global_max_pool", global_infer, flops=global_flops,
               forward=global_max_forward, backward=global_max_backward))  # fmt: skip
