"""A conv whose output only a max_pool reads (directly or through a relu), run as ONE plan step.

The graph keeps the conv, relu and max_pool nodes (shapes, export and inspection see all three);
the plan (executor/plan.py) runs them through these kernels. Why: unfused, the conv writes its
whole output and the pool reads it back (cnn_mnist's first conv: 3.2 MB a batch of 64, three
times this core's 1 MB L2, and the K = 10 GEMM writing it runs ~2.5x slower into memory that is
not in cache). Fused, the conv hands each chunk's output, kept under OUT_BUDGET bytes, to the
pool while it is still in cache and never assembles it; the backward routes the pool's gradient
chunk by chunk into the conv's (conv.run_forward's sink, run_backward's source).

The numbers are the kernels' own: the same per-sample GEMMs and pool passes on the same values,
so outputs equal the unfused plan's bit for bit; only dW's sum over samples groups its chunks
differently. A relu is applied behind the pool, as the plan does for any relu that only a
max_pool reads (same values and gradients, k^2 times fewer elements). Only pools without
padding fuse: a padded pool would pad each chunk with -inf first.
"""

from __future__ import annotations

import numpy as np

from .conv import run_backward, run_forward
from .max_pool import max_pool_into, max_unpool
from .registry import RunContext
from .windows import from_2d, window_2d
from .workspace import scratch

# conv output bytes per chunk, about this core's L2. Chosen on a prototype of the fused inference
# step, cnn_mnist Model.predict against the unfused plan, single in-process runs: 1 MB
# 0.83-0.88x, 256 KB 0.98x (more calls per chunk), 2 MB 0.94x, unbounded (the conv's own 2 MB
# column chunks) 0.92x.
OUT_BUDGET = 1 << 20
_POOL_WS = "max_pool scratch"  # the pool's buffers: a workspace of their own in the conv step's


def fusable(conv_attrs: dict, pool_attrs: dict) -> bool:
    return not any(pool_attrs["pads"]) and pool_attrs["nd"] == conv_attrs["nd"]


def _pool_ctx(ctx) -> RunContext:
    ws = None
    if ctx is not None and ctx.ws is not None:
        ws = ctx.ws.get(_POOL_WS)
        if ws is None:
            ws = ctx.ws[_POOL_WS] = {}
    return RunContext(training=ctx is not None and ctx.training, ws=ws)


class ConvPool:
    """The fused step's forward and backward, in the registry's calling convention (conv's
    attrs and params), bound to the pool's attrs and whether a relu sits between."""

    def __init__(self, pool_attrs: dict, relu: bool):
        self.pool_attrs, self.relu = pool_attrs, relu

    def forward(self, attrs, xs, params, ctx):
        x = xs[0]
        n, f = x.shape[0], params["weight"].shape[0]
        conv_win, _ = window_2d(attrs, x)
        out_nd = conv_win.out_hw if attrs["nd"] == 2 else conv_win.out_hw[1:]
        pwin, _ = window_2d(self.pool_attrs, np.broadcast_to(np.zeros((), x.dtype), (1, f, *out_nd)), dilated=False)
        y = scratch(ctx, "pooled", (n, f, *pwin.out_hw), x.dtype)
        hcode = vcode = None
        if ctx is not None and ctx.training:  # the winners, for the backward
            hcode = scratch(ctx, "hcode", (n, f, pwin.in_hw[0], pwin.out_hw[1]), np.uint8)
            vcode = scratch(ctx, "vcode", y.shape, np.uint8)
        pctx = _pool_ctx(ctx)

        def pool_chunk(n0: int, v: np.ndarray) -> None:
            rows = slice(n0, n0 + v.shape[0])
            max_pool_into(v, pwin, y[rows], None if hcode is None else hcode[rows],
                          None if vcode is None else vcode[rows], pctx, relu=self.relu)  # fmt: skip

        _, conv_cache = run_forward(attrs, x, params, ctx, sink=pool_chunk, out_budget=OUT_BUDGET)
        return from_2d(y, attrs["nd"]), (conv_cache, pwin, hcode, vcode, y if self.relu else None)

    def backward(self, attrs, dy, cache, params, grads, need_dx, ctx):
        conv_cache, pwin, hcode, vcode, relu_y = cache
        if hcode is None:
            raise ValueError("a fused conv -> max_pool backward needs a training-mode forward pass")
        pctx = _pool_ctx(ctx)
        dy = dy.reshape(vcode.shape)
        f, in_hw = vcode.shape[1], pwin.in_hw

        def pool_grad(n0: int, m: int, out=None) -> np.ndarray:  # (m, F, Ho, Wo): the conv output's gradient
            rows = slice(n0, n0 + m)
            live = None if relu_y is None else relu_y[rows]
            return max_unpool(dy[rows], pwin, hcode[rows], vcode[rows], (m, f, *in_hw), pctx, live, out)

        return run_backward(attrs, None, conv_cache, params, grads, need_dx, ctx, source=pool_grad, out_budget=OUT_BUDGET)
