"""Pooling: max_pool / avg_pool (windows over spatial axes; avg excludes padding from the count,
as Keras and ONNX count_include_pad=0), global_avg_pool / global_max_pool (over attrs["axes"]).

Kernels loop over the window offsets, each step one strided slice of the whole batch
(np.maximum / add): much faster than reshaping into windows or argmax over a window view
(DESIGN.md section 4). Max pools pad with -inf. Ties in a max (window or global) send the whole
gradient to ONE element: the first maximum in row-major window order (as PyTorch's max pools),
so the gradient sums to dy.

The max pool's passes are in max_pool.py.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from .max_pool import max_pool_into, max_unpool
from .registry import OpDef, ShapeError, register
from .shapes import need_rank, resolve_pads, window_out
from .windows import Window, from_2d, window_2d
from .workspace import scratch, zeros


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
    if any(win.pads):
        xp = win.pad(x, -np.inf, out=scratch(ctx, "xp", (*x.shape[:2], *win.padded_hw), x.dtype))
    else:
        xp = x
    n, c, hp = xp.shape[0], xp.shape[1], xp.shape[2]
    y = scratch(ctx, "y", (n, c, *win.out_hw), x.dtype)
    hcode = vcode = None
    if ctx is not None and ctx.training:  # only the backward reads the codes
        hcode = scratch(ctx, "hcode", (n, c, hp, win.out_hw[1]), np.uint8)
        vcode = scratch(ctx, "vcode", y.shape, np.uint8)
    # a relu in front, moved behind by the plan: max(relu(x)) = relu(max(x)) on k^2 times
    # fewer elements; the backward masks dy by y > 0 (the same gradient: see the plan)
    relu = ctx is not None and ctx.relu_output
    max_pool_into(xp, win, y, hcode, vcode, ctx, relu=relu)
    relu_y = y if relu else None
    return from_2d(y, attrs["nd"]), (win, xp.shape, hcode, vcode, relu_y)


def max_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    win, padded_shape, hcode, vcode, relu_y = cache
    if hcode is None:
        raise ValueError("max_pool backward needs a training-mode forward pass (it records the winners)")
    dy = dy.reshape(vcode.shape)
    return [_unpad(max_unpool(dy, win, hcode, vcode, padded_shape, ctx, relu_y), win, attrs["nd"], ctx)]


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
    xp = win.pad(x, out=scratch(ctx, "xp", (*x.shape[:2], *win.padded_hw), x.dtype)) if any(win.pads) else x
    y = scratch(ctx, "y", (*x.shape[:2], *win.out_hw), x.dtype)
    for k, (_, _, rows, cols) in enumerate(win.taps()):
        if k == 0:
            y[...] = xp[:, :, rows, cols]
        else:
            y += xp[:, :, rows, cols]
    counts = _counts(win, x.dtype)
    y /= counts
    return from_2d(y, attrs["nd"]), (win, xp.shape, counts)


def avg_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    win, padded_shape, counts = cache
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    tiled = win.strides == (kh, kw) and not any(win.pads) and padded_shape[2:] == (kh * ho, kw * wo)
    if tiled:
        # every input is in exactly one window: dx is g copied k times along each axis, one
        # axis at a time (measured, 2x2 on 64x32x28x28: ~2x faster than k^2 strided adds
        # into a zeroed dx)
        g = np.multiply(dy.reshape(*padded_shape[:2], ho, wo), 1 / (kh * kw),
                        out=scratch(ctx, "g", (*padded_shape[:2], ho, wo), dy.dtype))  # fmt: skip
        rows = scratch(ctx, "rows", (*padded_shape[:3], wo), dy.dtype)
        for i in range(kh):
            rows[:, :, i::kh] = g
        dxp = scratch(ctx, "dxp", padded_shape, dy.dtype)
        for j in range(kw):
            dxp[..., j::kw] = rows
        return [_unpad(dxp, win, attrs["nd"], ctx)]
    g = np.divide(dy.reshape(*padded_shape[:2], *win.out_hw), counts,
                  out=scratch(ctx, "g", (*padded_shape[:2], *win.out_hw), dy.dtype))  # fmt: skip
    dxp = zeros(ctx, "dxp", padded_shape, dy.dtype)
    for _, _, rows, cols in win.taps():
        dxp[:, :, rows, cols] += g
    return [_unpad(dxp, win, attrs["nd"], ctx)]


def _unpad(dxp: np.ndarray, win: Window, nd: int, ctx=None) -> np.ndarray:
    if any(win.pads):
        dx = scratch(ctx, "dx", (*dxp.shape[:2], *win.in_hw), dxp.dtype)
        dx[...] = win.crop(dxp)
    else:
        dx = dxp
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
    dx = scratch(ctx, "dx", shape, dy.dtype)
    np.multiply(np.expand_dims(dy, axes), 1 / prod(shape[a] for a in axes), out=dx)
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
    dflat = zeros(ctx, "dflat", flat_shape, dy.dtype)
    np.put_along_axis(dflat, idx, dy[..., None], axis=-1)
    dx = dflat.reshape(moved_shape).transpose(np.argsort(perm))
    return [dx if dx.flags.c_contiguous else np.ascontiguousarray(dx)]


register(OpDef("max_pool", infer, flops=window_flops, forward=max_forward, backward=max_backward,
               resolve=resolve))  # fmt: skip
register(OpDef("avg_pool", infer, flops=window_flops, forward=avg_forward, backward=avg_backward,
               resolve=resolve))  # fmt: skip
register(OpDef("global_avg_pool", global_infer, flops=global_flops,
               forward=global_avg_forward, backward=global_avg_backward))  # fmt: skip
register(OpDef("global_max_pool", global_infer, flops=global_flops,
               forward=global_max_forward, backward=global_max_backward))  # fmt: skip
