"""Max pooling's passes, for pool.py's max_pool kernels and the fused conv -> max_pool step
(conv_pool.py): the numpy passes, and the compiled loops (compiled_loops.py) where they run.

Max pool is separable: a window's max is the max over its rows of each row's max. The forward
takes the max over each window's columns for every row (pass 1), then over each window's rows
(pass 2), and in training records in each pass which offset won as a uint8 code (a strict `>`
keeps the first, so the pair of codes names the row-major first maximum). The backward routes
dy back through pass 2 then pass 1 with those codes: kh + kw steps instead of kh * kw
compare-and-mask steps, no float comparisons, and when the windows tile the input (the usual
2x2 stride 2) every step is a plain assignment with no zero fill. Inference records no codes,
so it takes the max over each window's rows first (whole image rows per operand), halving
what the strided pass along the rows reads.

Where the compiled loops run (compiled.py), (kh, 2) pools with kh 1 or 2 take them instead,
with the same values, codes and gradients; the 2x2 stride-2 pool (and a 1-D pool of 2) runs in
one pass, in training packing its three comparisons into vcode (hcode unused), which
max_unpool reads back.
"""

from __future__ import annotations

import numpy as np

from . import compiled
from .activations import relu as relu_into
from .windows import Window
from .workspace import scratch, zeros


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
    if x.flags.c_contiguous:  # a plain array: a reshape (0.15 us; as_strided takes ~3)
        return x.reshape(n, c, h * w), w
    pitch = x.strides[2] // x.itemsize
    flat = np.lib.stride_tricks.as_strided(x, (n, c, (h - 1) * pitch + w), (x.strides[0], x.strides[1], x.itemsize))
    return flat, pitch


def _compiled_pool(win: Window, x: np.ndarray) -> bool:
    """Whether the compiled loops run this pool: (kh, 2) windows, kh 1 or 2 (2x2, and 2 in 1-D),
    over an array whose rows are contiguous."""
    return win.kernel[0] <= 2 and win.kernel[1] == 2 and x.strides[3] == x.itemsize and compiled.enabled()


def _packed(win: Window) -> bool:
    """Whether a training-mode pool keeps its codes packed in vcode (compiled_loops.max_pool2x2:
    the 2x2 stride-2 pool, or a 1-D pool of 2 at stride 2, in one pass; hcode is then unused).
    max_pool_into and max_unpool decide alike, so the backward reads the codes the forward wrote."""
    return win.kernel in ((2, 2), (1, 2)) and win.strides == win.kernel and compiled.enabled()


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x if x.strides[3] == x.itemsize else np.ascontiguousarray(x)


def max_pool_into(xp, win: Window, y, hcode=None, vcode=None, ctx=None, relu: bool = False) -> None:
    """y (n, C, Ho, Wo) <- the max over each window of the padded input xp (n, C, Hp, Wp), then
    relu(y) if `relu`; with hcode (n, C, Hp, Wo) and vcode (n, C, Ho, Wo) (training) also each
    pass's winning offsets (packed in vcode alone when `_packed`). Also the per-chunk pool of
    the fused conv -> max_pool step."""
    kh, wo = win.kernel[0], win.out_hw[1]
    n, c, hp = xp.shape[0], xp.shape[1], xp.shape[2]
    if _packed(win):
        flat, pitch = _as_rows(_unit_rows(xp))
        if hcode is None:
            compiled.loops().max_pool2x2_values(flat, pitch, kh, y, relu)
        else:
            compiled.loops().max_pool2x2(flat, pitch, kh, y, vcode, relu)
        return
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
    live = relu_y if relu_y is not None else dy
    if _packed(win):
        target = _unit_rows(dest)  # a copy only for a destination without contiguous rows
        flat, pitch = _as_rows(target)
        compiled.loops().max_unpool2x2(dy, live, relu_y is not None, vcode, kh, flat, pitch, *padded_shape[2:])
        if target is not dest:
            dest[...] = target
        return dest
    if _compiled_pool(win, dest) and sh >= kh and sw >= kw:  # windows that do not overlap
        flat, pitch = _as_rows(dest)
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


def relu_masked(dy, relu_y, ctx) -> np.ndarray:
    """dy where the relu behind the pool let its output through (relu_y > 0), else 0."""
    live = np.greater(relu_y, 0, out=scratch(ctx, "live", relu_y.shape, np.bool_))
    return np.multiply(dy, live, out=scratch(ctx, "dy_live", relu_y.shape, dy.dtype))
