"""batch_norm in inference form: one output, running statistics, explicit epsilon.

ONNX normalizes axis 1; the executor's `axis` attr is the last axis for (batch, time, features)
inputs, so those are wrapped in Transposes that move the feature axis to 1 and back.
"""

from __future__ import annotations

from . import emitter


@emitter("batch_norm")
def batch_norm(ctx, node):
    x, y = ctx.input(node), ctx.output(node)
    rank = ctx.rank(node.inputs[0])
    axis = node.attrs["axis"] % rank
    inits = [ctx.param_init(node, r) for r in ("gamma", "beta", "running_mean", "running_var")]
    attrs = {"epsilon": float(node.attrs["epsilon"]), "momentum": float(node.attrs["momentum"])}
    if ctx.opset >= 14:
        attrs["training_mode"] = 0
    out = list(inits)
    if axis == 1:
        out.append(
            ctx.node(node, "BatchNormalization", [x, *(t.name for t in inits)], [y], **attrs)
        )
        return out
    perm = [0, axis] + [i for i in range(1, rank) if i != axis]
    inverse = [perm.index(i) for i in range(rank)]
    xt, tr = ctx.transpose(node, x, perm)
    yt = ctx.tmp(node, "normalized")
    bn = ctx.node(node, "BatchNormalization", [xt, *(t.name for t in inits)], [yt], **attrs)
    _, back = ctx.transpose(node, yt, inverse, out=y)
    return out + [tr, bn, back]
