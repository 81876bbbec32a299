"""dropout and gaussian_noise (identity at inference: not exported, the output is rewired to the
input), flatten (Flatten axis=1), reshape (Reshape to [0, *per_sample]: 0 copies the batch size,
allowzero=0), embedding (Gather rows of the (vocab, dim) table by int64 ids)."""

from __future__ import annotations

from . import emitter


@emitter("dropout", "gaussian_noise")
def identity(ctx, node):
    ctx.alias(node, node.inputs[0])
    return []


@emitter("flatten")
def flatten(ctx, node):
    return [ctx.node(node, "Flatten", [ctx.input(node)], [ctx.output(node)], axis=1)]


@emitter("reshape")
def reshape(ctx, node):
    # node.shape[1:] is fully resolved (any -1 in the spec is already computed); 0 means "copy
    # this axis from the input", i.e. the batch size, whatever it is at run time.
    target = ctx.ints(node, "shape", [0, *node.shape[1:]])
    attrs = {"allowzero": 0} if ctx.opset >= 14 else {}
    return [
        target,
        ctx.node(node, "Reshape", [ctx.input(node), target.name], [ctx.output(node)], **attrs),
    ]


@emitter("embedding")
def embedding(ctx, node):
    table = ctx.param_init(node, "weight")
    return [
        table,
        ctx.node(node, "Gather", [table.name, ctx.input(node)], [ctx.output(node)], axis=0),
    ]
