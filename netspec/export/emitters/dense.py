"""dense: y = x @ W + b over the last axis, W (in, out). Gemm is 2-D only, so rank >= 3 inputs
(batch, time, features) use MatMul + Add."""

from __future__ import annotations

from . import emitter


@emitter("dense")
def dense(ctx, node):
    x, y = ctx.input(node), ctx.output(node)
    w = ctx.param_init(node, "weight")
    out = [w]
    b = None
    if "bias" in node.params:
        b = ctx.param_init(node, "bias")
        out.append(b)
    if ctx.rank(node.inputs[0]) == 2:
        ins = [x, w.name] + ([b.name] if b is not None else [])
        out.append(ctx.node(node, "Gemm", ins, [y], alpha=1.0, beta=1.0, transA=0, transB=0))
        return out
    if b is None:
        out.append(ctx.node(node, "MatMul", [x, w.name], [y]))
        return out
    xw = ctx.tmp(node, "matmul")
    out.append(ctx.node(node, "MatMul", [x, w.name], [xw]))
    out.append(ctx.node(node, "Add", [xw, b.name], [y]))
    return out
