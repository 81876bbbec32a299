"""Pooling: max_pool / avg_pool (windows over spatial axes; avg excludes padding from the count,
as Keras and ONNX count_include_pad=0), global_avg_pool / global_max_pool (over attrs["axes"]).

Kernels loop over the window offsets, each step one strided slice of the whole batch
(np.maximum / add): much faster than reshaping into windows or argmax over a window view
(DESIGN.md section 4). Max pools pad with -inf. Ties in a max (window or global) send the whole
gradient to ONE element: the first maximum in row-major window order (as PyTorch's max pools),
so the gradient sums to dy.

Max pool is separable: a window's max is the max over its rows of each row's max. The forward
takes the max over each window's columns for every row (pass 1), then over each window's rows
(pass 2), and in training records in each pass which offset won as a uint8 code (a strict `>`
keeps the first, so the pair of codes names the row-major first maximum). The backward routes
dy back through pass 2 then pass 1 with those codes: kh + kw steps instead of kh * kw
compare-and-mask steps, no float comparisons, and when the windows tile the input (the usual
2x2 stride 2) every step is a plain assignment with no zero fill. Inference records no codes,
so it takes the max over each window's rows first (whole image rows per operand), halving
what the strided pass along the rows reads.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from . import compiled
from .activations import relu as relu_into
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


def _tap(axis: int, j: int, stride: int, count: int) -> tuple:
    """Index of the `count` elements offset j reads along `axis` (2 or 3) of a 4-D array."""
    return (slice(None),) * axis + (slice(j, j + stride * (count - 1) + 1, stride),)


_COPY_TAPS_MIN = 1 << 16  # elements


def _copied(a: np.ndarray, ctx, key: str) -> np.ndarray:
    out = scratch(ctx, key, a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _max_pass(src, dst, code, k: int, stride: int, axis: int, ctx, key: str) -> None:
    """dst = max over k offsets along `axis`; code (if given) = the first winning offset."""
    count = dst.shape[axis]
    first = src[_tap(axis, 0, stride, count)]
    if k == 1:  # the height pass of a 1-D pool
        dst[...] = first
        if code is not None:
            code.fill(0)
        return
    if k == 2:  # the usual pool: the code is one comparison, written straight as uint8
        second = src[_tap(axis, 1, stride, count)]
        if axis == 3 and stride > 1 and (code is not None or dst.size >= _COPY_TAPS_MIN):
            # taps strided along the row: numpy's compare and max take a slow loop there;
            # two plain copies first and contiguous ops after are ~1.8x faster (measured,
            # 64x16x28x28 f32: 327 vs 589 us with the code, 272 vs 445 without; for the max
            # alone the copies lose on small arrays)
            first = _copied(first, ctx, key + "even")
            second = _copied(second, ctx, key + "odd")
        if code is not None:
            np.greater(second, first, out=code.view(np.bool_))
        np.maximum(first, second, out=dst)
        return
    dst[...] = first
    if code is not None:
        code.fill(0)
        won = scratch(ctx, key + "won", dst.shape, np.bool_)
    for j in range(1, k):
        tap = src[_tap(axis, j, stride, count)]
        if code is not None:
            np.greater(tap, dst, out=won)
            # a strict win at offset j beats every earlier offset, so code = max(code, won * j)
            # (one cheap uint8 pass; masked assignment is 40x slower here)
            marks = won.view(np.uint8)
            marks *= np.uint8(j)
            np.maximum(code, marks, out=code)
        np.maximum(dst, tap, out=dst)


def _unpass(g, code, k: int, stride: int, axis: int, shape, ctx, key: str) -> np.ndarray:
    """The gradient of a max pass: g (one per output) to each output's winning offset."""
    out_count = g.shape[axis]
    tiled = stride == k and shape[axis] == k * out_count  # every input in exactly one window
    out = scratch(ctx, key, shape, g.dtype) if tiled else zeros(ctx, key, shape, g.dtype)
    if tiled and k == 2:  # code in {0, 1}: offset 1 gets g * code, offset 0 the rest, g - that
        pairs = out.reshape(*shape[:axis], out_count, 2, *shape[axis + 1 :])
        second = np.multiply(g, code.view(np.bool_), out=pairs[(slice(None),) * (axis + 1) + (1,)])
        np.subtract(g, second, out=pairs[(slice(None),) * (axis + 1) + (0,)])
        return out
    hit = scratch(ctx, key + "hit", g.shape, np.bool_)
    part = None if stride >= k else scratch(ctx, key + "part", g.shape, g.dtype)
    for j in range(k):
        np.equal(code, j, out=hit)
        view = out[_tap(axis, j, stride, out_count)]
        if part is None:  # windows do not overlap: each input gets at most one output's share
            np.multiply(g, hit, out=view)
        else:
            view += np.multiply(g, hit, out=part)
    return out


def _as_rows(x: np.ndarray) -> tuple[np.ndarray, int]:
    """(n, C, H, W) with contiguous rows (a plain array, or the valid positions of a conv's wide
    rows) -> the (n, C, L) view whose row r starts at r * pitch, and that pitch: the compiled
    loops then index contiguous runs (a 4-D view of unknown strides is not vectorized)."""
    n, c, h, w = x.shape
    pitch = x.strides[2] // x.itemsize
    flat = np.lib.stride_tricks.as_strided(x, (n, c, (h - 1) * pitch + w), (x.strides[0], x.strides[1], x.itemsize))
    return flat, pitch


def _compiled_pool(win: Window, x: np.ndarray) -> bool:
    """Whether the compiled loops run this pool: (kh, 2) windows, kh 1 or 2 (2x2, and 2 in 1-D),
    over an array whose rows are contiguous."""
    return win.kernel[0] <= 2 and win.kernel[1] == 2 and x.strides[3] == x.itemsize and compiled.enabled()


def max_pool_into(xp, win: Window, y, hcode=None, vcode=None, ctx=None, relu: bool = False) -> None:
    """y (n, C, Ho, Wo) <- the max over each window of the padded input xp (n, C, Hp, Wp), then
    relu(y) if `relu`; with hcode (n, C, Hp, Wo) and vcode (n, C, Ho, Wo) (training) also each
    pass's winning offsets. Also the per-chunk pool of the fused conv -> max_pool step."""
    (kh, kw), (sh, sw), (ho, wo) = win.kernel, win.strides, win.out_hw
    n, c, hp = xp.shape[0], xp.shape[1], xp.shape[2]
    if _compiled_pool(win, xp):
        flat, pitch = _as_rows(xp)
        if hcode is None:
            compiled.loops().max_pool2(flat, pitch, xp.shape[3], kh, win.strides, y, relu)
        else:
            rows = scratch(ctx, "rows", (n, c, hp, wo), xp.dtype)
            compiled.loops().max_pool2_codes(flat, pitch, kh, win.strides, rows, hcode, y, vcode, relu)
        return
    _numpy_max_pool(xp, win, y, hcode, vcode, ctx)
    if relu:
        relu_into(y, y)


def _numpy_max_pool(xp, win: Window, y, hcode, vcode, ctx) -> None:
    (kh, kw), (sh, sw), (ho, wo) = win.kernel, win.strides, win.out_hw
    n, c, hp = xp.shape[0], xp.shape[1], xp.shape[2]
    if hcode is not None:  # the row pass first: its codes then name the row-major first maximum
        h = scratch(ctx, "rows", (n, c, hp, wo), xp.dtype)
        _max_pass(xp, h, hcode, kw, sw, 3, ctx, "h")
        _max_pass(h, y, vcode, kh, sh, 2, ctx, "v")
    else:  # no codes: the max over each window's rows first (its operands are whole image
        # rows), so the strided pass along the rows reads half as much (measured, 2x2 on
        # 256x16x28x28: 2.2 vs 2.8 ms)
        v = scratch(ctx, "cols", (n, c, ho, xp.shape[3]), xp.dtype)
        _max_pass(xp, v, None, kh, sh, 2, ctx, "v")
        _max_pass(v, y, None, kw, sw, 3, ctx, "h")


def max_unpool(dy, win: Window, hcode, vcode, padded_shape, ctx=None, relu_y=None, out=None) -> np.ndarray:
    """The gradient of `max_pool_into` on the padded input: dy (n, C, Ho, Wo) to the winners,
    counted only where relu_y > 0 when a relu sits behind the pool (relu_y: its output); into
    `out` (any (n, C, Hp, Wp) view with contiguous rows, e.g. a conv's wide-row dy) if given."""
    (kh, kw), (sh, sw) = win.kernel, win.strides
    dest = out if out is not None else scratch(ctx, "dxp", padded_shape, dy.dtype)
    if _compiled_pool(win, dest) and sh >= kh and sw >= kw:  # windows that do not overlap
        flat, pitch = _as_rows(dest)
        live = relu_y if relu_y is not None else dy
        compiled.loops().max_unpool2(dy, live, relu_y is not None, hcode, vcode, kh, win.strides, flat, pitch,
                                     *padded_shape[2:])  # fmt: skip
        return dest
    if relu_y is not None:
        dy = relu_masked(dy, relu_y, ctx)
    dh = _unpass(dy, vcode, kh, sh, 2, hcode.shape, ctx, "dh")
    dxp = _unpass(dh, hcode, kw, sw, 3, padded_shape, ctx, "dxp")
    if out is None:
        return dxp
    out[...] = dxp
    return out


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


def relu_masked(dy, relu_y, ctx) -> np.ndarray:
    """dy where the relu behind the pool let its output through (relu_y > 0), else 0."""
    live = np.greater(relu_y, 0, out=scratch(ctx, "live", relu_y.shape, np.bool_))
    return np.multiply(dy, live, out=scratch(ctx, "dy_live", relu_y.shape, dy.dtype))


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
