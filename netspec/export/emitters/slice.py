"""slice as ONNX Slice on the last axis."""

from __future__ import annotations

from . import emitter


@emitter("slice")
def slice_last_axis(ctx, node):
    starts = ctx.ints(node, "starts", [node.attrs["start"]])
    ends = ctx.ints(node, "ends", [node.attrs["stop"]])
    axes = ctx.ints(node, "axes", [-1])
    return [starts, ends, axes,
            ctx.node(node, "Slice", [ctx.input(node), starts.name, ends.name, axes.name], [ctx.output(node)])]  # fmt: skip
