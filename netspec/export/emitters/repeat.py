"""repeat as Unsqueeze + Expand: (batch, F) -> (batch, 1, F) broadcast to (batch, length, F).
A named length is read from the model input's shape (Shape + Gather), so it stays dynamic."""

from __future__ import annotations

from . import emitter


@emitter("repeat")
def repeat(ctx, node):
    axes = ctx.ints(node, "axes", [1])
    col = ctx.tmp(node, "unsqueezed")
    out = [axes, ctx.node(node, "Unsqueeze", [ctx.input(node), axes.name], [col])]
    if len(node.inputs) == 1:
        shape = ctx.ints(node, "shape", [1, int(node.attrs["length"]), 1])
        out.append(shape)
        target = shape.name
    else:
        dims, steps, target = ctx.tmp(node, "input_shape"), ctx.tmp(node, "steps"), ctx.tmp(node, "shape")
        index = ctx.ints(node, "axis", [int(node.attrs["input_axis"])])
        one = ctx.ints(node, "one", [1])
        out += [index, one, ctx.node(node, "Shape", [ctx.input(node, 1)], [dims]),
                ctx.node(node, "Gather", [dims, index.name], [steps], axis=0),
                ctx.node(node, "Concat", [one.name, steps, one.name], [target], axis=0)]  # fmt: skip
    out.append(ctx.node(node, "Expand", [col, target], [ctx.output(node)]))
    return out
