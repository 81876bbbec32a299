"""conv (1-D and 2-D, channels-first): input (batch, C, *spatial), weight (F, C, *kernel).

Attributes (normalized by the compiler): nd, filters, kernel, strides, dilations, padding
(spec value), pads (ONNX order: begins then ends), use_bias, init.

Kernels: im2col + GEMM. The batch is cut into chunks whose column matrix is ~2 MB (it stays in
cache between the copy and the GEMM); per chunk, cols (n, C*kh*kw, positions) is filled by one
strided copy per kernel offset, then y = W (F, C*kh*kw) @ cols. Backward rebuilds each chunk's
cols for dW from the cached padded input (faster than keeping every chunk's cols: they fall out
of cache) and scatters dcols = W^T @ dy back with one add per kernel offset (col2im), skipped
when the executor does not need dX (the first layer). 1-D runs as 2-D with a height of 1.

Stride 1 (any dilation) uses "wide rows": output positions are laid out on the padded input's
row pitch Wp, so kernel offset (i, j) reads ONE contiguous run of the flattened padded image
(xp_flat[i*dh*Wp + j*dw :][:L]) instead of Ho short rows. numpy's cost here is per inner row,
not per element (conv 16->32 at 14x14: 14-float rows), so this cuts the column copies and the
col2im adds several-fold. The Wp - Wo extra positions per row are garbage in the forward (never
read: y is a strided view of the valid ones copied out) and get a zero dy in the backward, so
they add nothing to dW or dX. Strided convs keep the plain per-offset copies.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from .activations import relu as relu_into
from .registry import OpDef, ParamSpec, register
from .shapes import fixed, need_rank, resolve_pads, window_out
from .windows import Window, from_2d, window_2d
from .workspace import scratch, zeros

CHUNK_BYTES = 2 << 20  # column-matrix bytes per GEMM


def resolve(attrs: dict, ins: list[Shape]) -> dict:
    nd = attrs["nd"]
    need_rank(ins[0], nd + 2, f"conv{nd}d", "(batch, channels, " + ", ".join(["size"] * nd) + ")")
    spatial = ins[0][2:]
    pads = resolve_pads(
        attrs["padding"], spatial, attrs["kernel"], attrs["strides"], attrs["dilations"]
    )
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


def _im2col(xp: np.ndarray, win: Window, out: np.ndarray) -> np.ndarray:
    """(n, C, Hp, Wp) padded input -> out (n, C*kh*kw, Ho*Wo) columns, rows ordered (c, i, j)
    as the weight's (C, kh, kw) so the weight reshapes to (F, C*kh*kw) without a copy."""
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    cols = out.view()
    cols.shape = (n, c, kh, kw, ho, wo)  # a view even of a row slice (raises rather than copy)
    for i, j, rows, cs in win.taps():
        cols[:, :, i, j] = xp[:, :, rows, cs]
    return out


def _wide_len(win: Window) -> int:
    """Positions per channel in the wide-row layout: Ho rows of pitch Wp, the last one cut at
    Wo so that the last kernel offset's run ends exactly at the end of the padded image."""
    return (win.out_hw[0] - 1) * win.padded_hw[1] + win.out_hw[1]


def _offsets(win: Window) -> list[int]:
    wp = win.padded_hw[1]
    return [i * win.dilations[0] * wp + j * win.dilations[1] for i in range(win.kernel[0]) for j in range(win.kernel[1])]


def _im2col_wide(xp: np.ndarray, win: Window, out: np.ndarray) -> np.ndarray:
    """(n, C, Hp, Wp) contiguous padded input -> out (n, C*kh*kw, L) wide-row columns."""
    n, c = xp.shape[:2]
    length = out.shape[2]
    flat = xp.reshape(n, c, -1)
    cols = out.view()
    cols.shape = (n, c, -1, length)  # a view even of a row slice (raises rather than copy)
    for t, off in enumerate(_offsets(win)):
        cols[:, :, t] = flat[:, :, off : off + length]
    return out


def _valid(wide: np.ndarray, win: Window) -> np.ndarray:
    """The (n, F, Ho, Wo) valid positions of a (n, F, L) wide-row array, as a strided view."""
    n, f, length = wide.shape
    s = wide.strides
    ho, wo = win.out_hw
    return np.lib.stride_tricks.as_strided(wide, (n, f, ho, wo), (s[0], s[1], win.padded_hw[1] * s[2], s[2]))


def _chunk(win: Window, channels: int, positions: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
    """Samples per chunk so that one chunk's columns take about `budget` bytes."""
    per_sample = channels * win.kernel[0] * win.kernel[1] * positions * itemsize
    return max(1, budget // max(per_sample, 1))


def _padded(x: np.ndarray, win: Window, ctx) -> np.ndarray:
    if any(win.pads):
        return win.pad(x, out=scratch(ctx, "xp", (*x.shape[:2], *win.padded_hw), x.dtype))
    return np.ascontiguousarray(x)


def forward(attrs, xs, params, ctx):
    win, x = window_2d(attrs, xs[0])
    w = params["weight"]
    n, c, f = x.shape[0], x.shape[1], w.shape[0]
    w2 = w.reshape(f, -1)
    xp = _padded(x, win, ctx)
    # Wide rows cost one contiguous copy per column row plus copying F output rows out per
    # image row; plain columns cost one short copy per column row and image row, and none out.
    # With fewer column rows than filters (a first layer: 1 or 3 channels) plain ones win.
    wide = win.strides == (1, 1) and c * win.kernel[0] * win.kernel[1] > f
    positions = _wide_len(win) if wide else win.out_hw[0] * win.out_hw[1]
    step = _chunk(win, c, positions, x.itemsize)
    b = params.get("bias")
    relu = ctx is not None and ctx.relu_output  # a relu fused in by the plan (inference)
    # the bias rides in the GEMM on a row of ones under the columns (a separate broadcast add
    # over the output cost ~10% of a cnn_mnist inference batch)
    k, ones_row = w2.shape[1], int(b is not None)
    if ones_row:
        w2 = np.concatenate([w2, b[:, None]], axis=1)
    cols = scratch(ctx, "cols", (min(step, n), k + ones_row, positions), x.dtype)
    y = scratch(ctx, "y", (n, f, *win.out_hw), x.dtype)
    y3 = y.reshape(n, f, -1)
    yw = scratch(ctx, "yw", (min(step, n), f, positions), x.dtype) if wide else None
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        if wide:
            _im2col_wide(xp[n0 : n0 + m], win, cols[:m, :k])
            if ones_row:
                cols[:m, k] = 1
            np.matmul(w2, cols[:m], out=yw[:m])
            if relu:
                relu_into(_valid(yw[:m], win), y[n0 : n0 + m])
            else:
                y[n0 : n0 + m] = _valid(yw[:m], win)
        else:
            _im2col(xp[n0 : n0 + m], win, cols[:m, :k])
            if ones_row:
                cols[:m, k] = 1
            np.matmul(w2, cols[:m], out=y3[n0 : n0 + m])
    if relu and not wide:
        relu_into(y3, y3)
    return from_2d(y, attrs["nd"]), (win, xp)


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    win, xp = cache
    w = params["weight"]
    n, c, f = xp.shape[0], xp.shape[1], w.shape[0]
    w2 = w.reshape(f, -1)
    dy3 = dy.reshape(n, f, -1)
    want_dw = "weight" in grads
    # the bias gradient comes out of the dW GEMM on a row of ones under the columns (wide
    # rows' garbage positions have dy = 0); alone, a GEMV with ones sums over positions ~4x
    # faster than np.sum over axes (0, 2)
    k, bias_row = w2.shape[1], int(want_dw and "bias" in grads)
    if "bias" in grads and not bias_row:
        np.sum(dy3 @ np.ones(dy3.shape[2], dtype=dy.dtype), axis=0, out=grads["bias"])
    if not want_dw and not need_dx[0]:
        return [None]
    # wide rows pay off in the col2im scatter; for dW alone (a first layer) the plain columns
    # avoid building a wide dy
    wide = win.strides == (1, 1) and need_dx[0]
    positions = _wide_len(win) if wide else win.out_hw[0] * win.out_hw[1]
    # a chunk's columns and their gradient are both live when dX is wanted: half the budget
    # each keeps the pair in cache (measured: conv 32->64 at 14x14 22.5 -> 21 ms)
    step = _chunk(win, c, positions, xp.itemsize, CHUNK_BYTES // (2 if need_dx[0] else 1))
    m0 = min(step, n)
    # dW^T = cols @ dy^T per sample, summed: measured ~30% faster than dy @ cols^T (conv
    # 16->32 at 14x14: 0.50 vs 0.71 ms a chunk), whose long reduction axis is the transposed one
    dwt = scratch(ctx, "dwt", (k + bias_row, f), w.dtype) if want_dw else None
    if dwt is not None:
        dwt.fill(0)
        dwt_part = scratch(ctx, "dwt_part", (m0, k + bias_row, f), w.dtype)
        cols = scratch(ctx, "cols", (m0, k + bias_row, positions), xp.dtype)
    dxp = zeros(ctx, "dxp", xp.shape, dy.dtype) if need_dx[0] else None
    if dxp is not None:
        dcols = scratch(ctx, "dcols", (m0, w2.shape[1], positions), dy.dtype)
    if wide:  # dy on the wide rows; the garbage positions stay zero
        dyw = zeros(ctx, "dyw", (m0, f, positions), dy.dtype)
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        if wide:
            _valid(dyw[:m], win)[...] = dy3[n0 : n0 + m].reshape(m, f, ho, wo)
            d = dyw[:m]
        else:
            d = dy3[n0 : n0 + m]
        if dwt is not None:
            im2col = _im2col_wide if wide else _im2col
            im2col(xp[n0 : n0 + m], win, cols[:m, :k])
            if bias_row:
                cols[:m, k] = 1
            dwt += np.matmul(cols[:m], d.transpose(0, 2, 1), out=dwt_part[:m]).sum(axis=0)
        if dxp is not None:
            dc = np.matmul(w2.T, d, out=dcols[:m])
            part = dxp[n0 : n0 + m]
            if wide:
                flat = part.reshape(m, c, -1)
                dc4 = dc.reshape(m, c, -1, positions)
                for t, off in enumerate(_offsets(win)):
                    flat[:, :, off : off + positions] += dc4[:, :, t]
            else:
                dc6 = dc.reshape(m, c, kh, kw, ho, wo)
                for i, j, rows, cs in win.taps():
                    part[:, :, rows, cs] += dc6[:, :, i, j]
    if dwt is not None:
        grads["weight"].reshape(f, -1)[...] = dwt[:k].T
        if bias_row:
            grads["bias"][...] = dwt[k]
    if dxp is None:
        return [None]
    if any(win.pads):  # later kernels reshape dy; keep it a plain array
        dx = scratch(ctx, "dx", (n, c, *win.in_hw), dy.dtype)
        dx[...] = win.crop(dxp)
    else:
        dx = dxp
    return [from_2d(dx, attrs["nd"])]


register(OpDef("conv", infer, params, flops, forward=forward, backward=backward, resolve=resolve))
