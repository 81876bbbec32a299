"""add (a chain of Add, summed left to right as the executor does) and concat."""

from __future__ import annotations

from . import emitter


@emitter("add")
def add(ctx, node):
    ins, y = ctx.inputs(node), ctx.output(node)
    out, acc = [], ins[0]
    for i, other in enumerate(ins[1:], start=1):
        dst = y if i == len(ins) - 1 else ctx.tmp(node, f"sum{i}")
        out.append(ctx.node(node, "Add", [acc, other], [dst]))
        acc = dst
    return out


@emitter("concat")
def concat(ctx, node):
    return [
        ctx.node(node, "Concat", ctx.inputs(node), [ctx.output(node)], axis=int(node.attrs["axis"]))
    ]
