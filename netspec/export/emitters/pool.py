"""max_pool / avg_pool (MaxPool / AveragePool, explicit pads, floor mode; average pooling leaves
padding out of the count: count_include_pad=0) and the global pools (ReduceMean / ReduceMax over
the IR's `axes`, keepdims=0; the axes are an input from opset 18, an attribute before)."""

from __future__ import annotations

from . import emitter


@emitter("max_pool", "avg_pool")
def pool(ctx, node):
    a = node.attrs
    attrs = {"kernel_shape": list(a["kernel"]), "strides": list(a["strides"]),
             "pads": list(a["pads"]), "ceil_mode": 0}  # fmt: skip
    if node.op == "avg_pool":
        op_type = "AveragePool"
        attrs["count_include_pad"] = 0
    else:
        op_type = "MaxPool"
    return [ctx.node(node, op_type, [ctx.input(node)], [ctx.output(node)], **attrs)]


@emitter("global_avg_pool", "global_max_pool")
def global_pool(ctx, node):
    op_type = "ReduceMean" if node.op == "global_avg_pool" else "ReduceMax"
    axes = [int(i) for i in node.attrs["axes"]]
    x, y = ctx.input(node), ctx.output(node)
    if ctx.opset >= 18:
        t = ctx.ints(node, "axes", axes)
        return [t, ctx.node(node, op_type, [x, t.name], [y], keepdims=0)]
    return [ctx.node(node, op_type, [x], [y], axes=axes, keepdims=0)]
