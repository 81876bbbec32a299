"""conv (1-D and 2-D, channels-first): input (batch, C, *spatial), weight (F, C, *kernel).

Attributes (normalized by the compiler): nd, filters, kernel, strides, dilations, padding
(spec value), pads (ONNX order: begins then ends), use_bias, init.

Kernels: im2col + GEMM. The batch is cut into chunks whose column matrix is ~2 MB (it stays in
cache between the copy and the GEMM); per chunk, cols (n, C*kh*kw, Ho*Wo) is filled by one
strided copy per kernel offset (as fast as a sliding_window_view transpose, and simpler), then
y = W (F, C*kh*kw) @ cols lands directly in the channels-first output. Backward rebuilds each
chunk's cols for dW from the cached padded input: measured faster than keeping every chunk's
cols from the forward (32->64 ch 14x14 batch 64: 18 vs 29 ms; the kept columns fall out of
cache) and it holds no more memory than the input. dX scatters dcols = W^T @ dy back with one
strided add per kernel offset (col2im; faster than np.add.at) and is skipped when the executor
does not need it (the first layer). 1-D runs as 2-D with a height of 1 (see windows.py).
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, register
from .shapes import fixed, need_rank, resolve_pads, window_out
from .windows import Window, from_2d, window_2d

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


def _im2col(xp: np.ndarray, win: Window) -> np.ndarray:
    """(n, C, Hp, Wp) padded input -> (n, C*kh*kw, Ho*Wo) columns, rows ordered (c, i, j) as
    the weight's (C, kh, kw) so the weight reshapes to (F, C*kh*kw) without a copy."""
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=xp.dtype)
    for i, j, rows, cs in win.taps():
        cols[:, :, i, j] = xp[:, :, rows, cs]
    return cols.reshape(n, c * kh * kw, ho * wo)


def _chunk(win: Window, channels: int, itemsize: int) -> int:
    """Samples per chunk so that one chunk's columns take about CHUNK_BYTES."""
    per_sample = channels * win.kernel[0] * win.kernel[1] * win.out_hw[0] * win.out_hw[1] * itemsize
    return max(1, CHUNK_BYTES // max(per_sample, 1))


def forward(attrs, xs, params, ctx):
    win, x = window_2d(attrs, xs[0])
    w = params["weight"]
    n, f = x.shape[0], w.shape[0]
    w2 = w.reshape(f, -1)
    xp = win.pad(x)
    y = np.empty((n, f, *win.out_hw), dtype=x.dtype)
    y3 = y.reshape(n, f, -1)
    step = _chunk(win, x.shape[1], x.itemsize)
    for n0 in range(0, n, step):
        np.matmul(w2, _im2col(xp[n0 : n0 + step], win), out=y3[n0 : n0 + step])
    b = params.get("bias")
    if b is not None:
        y3 += b[:, None]
    return from_2d(y, attrs["nd"]), (win, xp, step)


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    win, xp, step = cache
    w = params["weight"]
    n, c, f = xp.shape[0], xp.shape[1], w.shape[0]
    w2 = w.reshape(f, -1)
    dy3 = dy.reshape(n, f, -1)
    if "bias" in grads:
        # A GEMV with ones sums over positions ~4x faster than np.sum over axes (0, 2).
        np.sum(dy3 @ np.ones(dy3.shape[2], dtype=dy.dtype), axis=0, out=grads["bias"])
    dw = np.zeros(w2.shape, dtype=w.dtype) if "weight" in grads else None
    dxp = np.zeros(xp.shape, dtype=dy.dtype) if need_dx[0] else None
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    for n0 in range(0, n, step):
        d = dy3[n0 : n0 + step]
        if dw is not None:
            cols = _im2col(xp[n0 : n0 + step], win)
            dw += np.matmul(d, cols.transpose(0, 2, 1)).sum(axis=0)
        if dxp is not None:
            dcols = np.matmul(w2.T, d).reshape(-1, c, kh, kw, ho, wo)
            part = dxp[n0 : n0 + step]
            for i, j, rows, cs in win.taps():
                part[:, :, rows, cs] += dcols[:, :, i, j]
    if dw is not None:
        grads["weight"][...] = dw.reshape(w.shape)
    if dxp is None:
        return [None]
    dx = win.crop(dxp)
    if any(win.pads):
        dx = np.ascontiguousarray(dx)  # later kernels reshape dy; keep it a plain array
    return [from_2d(dx, attrs["nd"])]


register(OpDef("conv", infer, params, flops, forward=forward, backward=backward, resolve=resolve))
