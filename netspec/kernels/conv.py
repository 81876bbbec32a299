"""conv (1-D and 2-D, channels-first): input (batch, C, *spatial), weight (F, C, *kernel).

Attributes (normalized by the compiler): nd, filters, kernel, strides, dilations, padding
(spec value), pads (ONNX order: begins then ends), use_bias, init.

Kernels: im2col + GEMM. The batch is cut into chunks whose column matrix is ~2 MB (it stays in
cache between the copy and the GEMM); per chunk, cols (n, C*kh*kw, positions) is filled by one
strided copy per kernel offset, then y = W (F, C*kh*kw) @ cols. Backward rebuilds each chunk's
cols for dW from the cached padded input (faster than keeping every chunk's cols: they fall out
of cache) and scatters dcols = W^T @ dy back with one add per kernel offset (col2im), skipped
when the executor does not need dX (the first layer). 1-D runs as 2-D with a height of 1.

Layers with more column rows (C*kh*kw) than filters use "wide rows" (conv_wide.py): one
contiguous run per kernel offset, at any stride and dilation; a first layer (1 or 3 channels)
and the dW-only backward use plain columns, one strided copy per kernel offset.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from . import compiled, conv_wide
from .activations import relu as relu_into
from .registry import OpDef, ParamSpec, register
from .rowwise import channel_sum
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
    """(n, C, Hp, Wp) padded input -> the first C*kh*kw rows of out (n, rows, Ho*Wo): columns,
    rows ordered (c, i, j) as the weight's (C, kh, kw) so the weight reshapes to (F, C*kh*kw)
    without a copy; later rows are left alone."""
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    if compiled.enabled():
        compiled.loops().im2col(xp, win.kernel, win.strides, win.dilations, win.out_hw, out)
        return out
    cols = out[:, : c * kh * kw].view()
    cols.shape = (n, c, kh, kw, ho, wo)  # a view even of a row slice (raises rather than copy)
    for i, j, rows, cs in win.taps():
        cols[:, :, i, j] = xp[:, :, rows, cs]
    return out


def _chunk(win: Window, channels: int, positions: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
    """Samples per chunk so that one chunk's columns take about `budget` bytes."""
    per_sample = channels * win.kernel[0] * win.kernel[1] * positions * itemsize
    return max(1, budget // max(per_sample, 1))


def _padded(x: np.ndarray, win: Window, ctx) -> np.ndarray:
    if any(win.pads):
        return win.pad(x, out=scratch(ctx, "xp", (*x.shape[:2], *win.padded_hw), x.dtype))
    return np.ascontiguousarray(x)


def forward(attrs, xs, params, ctx):
    return run_forward(attrs, xs[0], params, ctx)


def run_forward(attrs, x, params, ctx, sink=None, out_budget: int | None = None):
    """The conv forward. With `sink` the output is never assembled: each chunk's (m, F, Ho, Wo)
    output, a view of a chunk buffer valid until the next chunk, goes to sink(n0, view), and
    chunks also keep their output under `out_budget` bytes (so the sink reads it from cache);
    the first value returned is then None (conv_pool.py pools each chunk this way)."""
    win, x = window_2d(attrs, x)
    w = params["weight"]
    n, c, f = x.shape[0], x.shape[1], w.shape[0]
    w2 = w.reshape(f, -1)
    # Wide rows cost one contiguous copy per column row plus copying F output rows out per
    # image row; plain columns cost one short copy per column row and image row, and none out.
    # With fewer column rows than filters (a first layer: 1 or 3 channels) plain ones win, and
    # at strides > 1 (the phase copies and the copy-out cost more than the short rows save:
    # measured 1.3x slower, conv 16->32 at 28x28 stride 2; the backward's col2im gains).
    wide = win.strides == (1, 1) and c * win.kernel[0] * win.kernel[1] > f
    if wide:  # the padded input in the wide rows' own layout (the backward keeps to it)
        win = conv_wide.shared_pad(win)
    xp = _padded(x, win, ctx)
    g = conv_wide.geometry(win) if wide else None
    q = _phases(xp, g, ctx) if g is not None else None
    positions = g.length if g is not None else win.out_hw[0] * win.out_hw[1]
    step = _chunk(win, c, positions, x.itemsize)
    if out_budget is not None:
        step = max(1, min(step, out_budget // (f * positions * x.itemsize)))
    b = params.get("bias")
    relu = sink is None and ctx is not None and ctx.relu_output  # a relu fused in by the plan (inference)
    # the bias rides in the GEMM on a row of ones under the columns (a separate broadcast add
    # over the output cost ~10% of a cnn_mnist inference batch)
    k, ones_row = w2.shape[1], int(b is not None)
    if ones_row:
        w2 = np.concatenate([w2, b[:, None]], axis=1)
    cols = scratch(ctx, "cols", (min(step, n), k + ones_row, positions), x.dtype)
    y = scratch(ctx, "y", (n, f, *win.out_hw), x.dtype) if sink is None else None
    y3 = y.reshape(n, f, -1) if y is not None else None
    # wide rows (and plain ones for a sink) come out of each chunk's GEMM into a chunk buffer
    yw = scratch(ctx, "yw", (min(step, n), f, positions), x.dtype) if g is not None or sink else None
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        _columns(xp, q, win, g, n0, m, cols, ones_row)
        if yw is None:
            np.matmul(w2, cols[:m], out=y3[n0 : n0 + m])
            continue
        np.matmul(w2, cols[:m], out=yw[:m])
        out = conv_wide.valid(yw[:m], g) if g is not None else yw[:m].reshape(m, f, *win.out_hw)
        if sink is not None:
            sink(n0, out)
        elif relu:
            relu_into(out, y[n0 : n0 + m])
        else:
            y[n0 : n0 + m] = out
    if relu and g is None:
        relu_into(y3, y3)
    return (from_2d(y, attrs["nd"]) if y is not None else None), (win, xp, q)


def _columns(xp, q, win: Window, g, n0: int, m: int, cols: np.ndarray, ones_row: int) -> None:
    """cols[:m] <- the columns of samples n0 .. n0 + m (wide rows from the phases q when g is
    given, else plain), with a last row of ones under them when ones_row."""
    k = cols.shape[1] - ones_row
    if g is not None:
        conv_wide.im2col(q[n0 : n0 + m], g, cols[:m])
    else:
        _im2col(xp[n0 : n0 + m], win, cols[:m])
    if ones_row:
        cols[:m, k] = 1


def _phases(xp: np.ndarray, g, ctx) -> np.ndarray:
    size = xp.shape[0] * xp.shape[1] * g.phases * g.phase_hw[0] * g.phase_hw[1]
    return conv_wide.phases(xp, g, None if g.grid == (1, 1) else scratch(ctx, "xq", (size,), xp.dtype))


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    return run_backward(attrs, dy, cache, params, grads, need_dx, ctx)


SMALL_GEMM = 1_000_000  # M * N * K up to which OpenBLAS takes its small-matrix kernels


def _copy_dy_t(rows: int, f: int, positions: int) -> bool:
    """Whether the dW product gets dy^T copied contiguous instead of as a transposed view. In
    OpenBLAS's small-matrix range a transposed right operand runs ~1.3x slower, and the copy
    costs less than that when the columns have many rows and dy^T rows are not tiny (measured,
    1 thread, per chunk: cnn_mnist conv2 8 x (146, 209) @ (209, 32) 0.80x with the copy;
    k >= 128, F >= 16 below 1e6 multiply-adds 0.71-0.83x; bigger products 1.00-1.02x, so
    they keep the view; k <= 73 or F = 8, 1.25-3.2x slower with the copy)."""
    return rows >= 128 and f >= 16 and rows * f * positions <= SMALL_GEMM


def run_backward(attrs, dy, cache, params, grads, need_dx, ctx, source=None, out_budget: int | None = None):
    """The conv backward. With `source`, dy is None and source(n0, m, out=None) returns samples
    n0 .. n0 + m's output gradient (m, F, Ho, Wo) chunk by chunk, written into `out` when given
    (chunks then also keep it under `out_budget` bytes): conv_pool.py routes the pool's gradient
    in this way, never assembling it whole."""
    win, xp, q = cache
    w = params["weight"]
    n, c, f = xp.shape[0], xp.shape[1], w.shape[0]
    w2 = w.reshape(f, -1)
    dt = xp.dtype
    want_dw = "weight" in grads
    # the bias gradient comes out of the dW GEMM on a row of ones under the columns (wide
    # rows' garbage positions have dy = 0); alone, as GEMVs (rowwise.channel_sum)
    k, bias_row = w2.shape[1], int(want_dw and "bias" in grads)
    if "bias" in grads and not bias_row:
        if source is not None:  # rare (a frozen kernel with a trainable bias): assemble dy
            dy = np.concatenate([source(n0, min(n - n0, 64)).copy() for n0 in range(0, n, 64)])
            source = None
        channel_sum(dy.reshape(n, f, -1), grads["bias"])
    if not want_dw and not need_dx[0]:
        return [None]
    dy3 = dy.reshape(n, f, -1) if source is None else None
    # wide rows pay off in the col2im scatter; for dW alone (a first layer) the plain columns
    # avoid building a wide dy, unless the forward ran wide rows (xp is then in their layout)
    g = conv_wide.geometry(win) if need_dx[0] or q is not None else None
    if g is not None and q is None:  # the forward ran plain columns
        q = _phases(xp, g, ctx)
    positions = g.length if g is not None else win.out_hw[0] * win.out_hw[1]
    # a chunk's columns and their gradient are both live when dX is wanted: half the budget
    # each keeps the pair in cache (measured: conv 32->64 at 14x14 22.5 -> 21 ms)
    step = _chunk(win, c, positions, xp.itemsize, CHUNK_BYTES // (2 if need_dx[0] else 1))
    if source is not None and out_budget is not None:
        step = max(1, min(step, out_budget // (f * positions * xp.itemsize)))
    m0 = min(step, n)
    # dW^T = cols @ dy^T per sample, summed: measured ~30% faster than dy @ cols^T (conv
    # 16->32 at 14x14: 0.50 vs 0.71 ms a chunk), whose long reduction axis is the transposed one
    dwt = scratch(ctx, "dwt", (k + bias_row, f), w.dtype) if want_dw else None
    dyt = None
    if dwt is not None:
        dwt.fill(0)
        dwt_part = scratch(ctx, "dwt_part", (m0, k + bias_row, f), w.dtype)
        cols = scratch(ctx, "cols", (m0, k + bias_row, positions), dt)
        if _copy_dy_t(k + bias_row, f, positions):
            dyt = scratch(ctx, "dyt", (m0, positions, f), dt)
    dxp = None
    if g is not None:
        dyw = zeros(ctx, "dyw", (m0, f, positions), dt)  # garbage positions stay zero
    if g is not None and need_dx[0]:
        strided = g.grid != (1, 1)  # then dX comes out of per-chunk phase gradients
        dxp = (scratch if strided else zeros)(ctx, "dxp", xp.shape, dt)
        dcols = scratch(ctx, "dcols", (m0, k, positions), dt)
        dq = scratch(ctx, "dq", (m0, *q.shape[1:]), dt) if strided else None
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        if g is not None:
            valid = conv_wide.valid(dyw[:m], g)
            if source is None:
                valid[...] = dy3[n0 : n0 + m].reshape(m, f, *win.out_hw)
            else:  # straight into the wide rows' valid positions
                source(n0, m, valid)
            d = dyw[:m]
        elif source is None:
            d = dy3[n0 : n0 + m]
        else:
            d = np.ascontiguousarray(source(n0, m)).reshape(m, f, -1)
        if dwt is not None:
            _columns(xp, q, win, g, n0, m, cols, bias_row)
            d_t = d.transpose(0, 2, 1)
            if dyt is not None:
                d_t = dyt[:m]
                np.copyto(d_t, d.transpose(0, 2, 1))
            dwt += np.matmul(cols[:m], d_t, out=dwt_part[:m]).sum(axis=0)
        if dxp is not None:
            dc = np.matmul(w2.T, d, out=dcols[:m])
            if dq is None:
                conv_wide.col2im(dc, g, dxp[n0 : n0 + m].reshape(m, c, 1, -1))
            else:
                dq[:m].fill(0)
                conv_wide.col2im(dc, g, dq[:m])
                conv_wide.unphase(dq[:m], g, dxp[n0 : n0 + m])
    if dwt is not None:
        grads["weight"].reshape(f, -1)[...] = dwt[:k].T
        if bias_row:
            grads["bias"][...] = dwt[k]
    if dxp is None:
        return [None]
    if any(win.pads):  # later kernels reshape dy; keep it a plain array
        dx = scratch(ctx, "dx", (n, c, *win.in_hw), dt)
        dx[...] = win.crop(dxp)
    else:
        dx = dxp
    return [from_2d(dx, attrs["nd"])]


register(OpDef("conv", infer, params, flops, forward=forward, backward=backward, resolve=resolve))
