"""`bidirectional = true` for any recurrent cell, as a wrapper over its forward/backward kernels.

The backward direction is the same kernel run on each sample reversed within its real length
(padded steps stay at the end, so the layout and the lengths are unchanged), with its own
parameters (roles "<role>_reverse"); its outputs are reversed back. Outputs are concatenated on
the last axis, forward then backward, as Keras' Bidirectional and PyTorch: many-to-one gives
[h_fwd at the last real step, h_bwd after reading the whole sample (back to its first step)],
which is also what ONNX `direction = "bidirectional"` returns in Y_h.
"""

from __future__ import annotations

import numpy as np

REVERSE = "_reverse"


def reverse_within(x: np.ndarray, lengths) -> np.ndarray:
    """x (batch, time, ...) with steps [0, len) of each sample reversed; padded steps kept."""
    steps = x.shape[1]
    if lengths is None:
        return x[:, ::-1]
    lens = np.asarray(lengths)[:, None]
    t = np.arange(steps)[None, :]
    idx = np.where(t < lens, lens - 1 - t, t)
    return np.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def _split(params: dict) -> tuple[dict, dict]:
    fwd = {k: v for k, v in params.items() if not k.endswith(REVERSE)}
    bwd = {k[: -len(REVERSE)]: v for k, v in params.items() if k.endswith(REVERSE)}
    return fwd, bwd


def wrap(forward, backward):
    """(forward, backward) kernels that run both directions when attrs["bidirectional"]."""

    def fwd(attrs, xs, params, ctx):
        if not attrs.get("bidirectional"):
            return forward(attrs, xs, params, ctx)
        pf, pb = _split(params)
        yf, cf = forward(attrs, xs, pf, ctx)
        yb, cb = forward(attrs, [reverse_within(xs[0], ctx.lengths)], pb, ctx)
        if attrs["return_sequences"]:
            yb = reverse_within(yb, ctx.lengths)
        return np.concatenate([yf, yb], axis=-1), (cf, cb)

    def bwd(attrs, dy, cache, params, grads, need_dx, ctx):
        if not attrs.get("bidirectional"):
            return backward(attrs, dy, cache, params, grads, need_dx, ctx)
        cf, cb = cache
        pf, pb = _split(params)
        gf, gb = _split(grads)
        h = dy.shape[-1] // 2
        dyf, dyb = np.ascontiguousarray(dy[..., :h]), dy[..., h:]
        if attrs["return_sequences"]:
            dyb = reverse_within(dyb, ctx.lengths)
        dxf = backward(attrs, dyf, cf, pf, gf, need_dx, ctx)[0]
        dxb = backward(attrs, np.ascontiguousarray(dyb), cb, pb, gb, need_dx, ctx)[0]
        if not need_dx[0]:
            return [None]
        return [dxf + reverse_within(dxb, ctx.lengths)]

    return fwd, bwd
