"""conv (1-D and 2-D, channels-first): Conv with explicit kernel_shape, strides, dilations and
pads ([begins..., ends...], as the IR stores them); never auto_pad."""

from __future__ import annotations

from . import emitter


@emitter("conv")
def conv(ctx, node):
    a = node.attrs
    w = ctx.param_init(node, "weight")
    out = [w]
    ins = [ctx.input(node), w.name]
    if "bias" in node.params:
        b = ctx.param_init(node, "bias")
        out.append(b)
        ins.append(b.name)
    out.append(
        ctx.node(
            node,
            "Conv",
            ins,
            [ctx.output(node)],
            kernel_shape=list(a["kernel"]),
            strides=list(a["strides"]),
            dilations=list(a["dilations"]),
            pads=list(a["pads"]),
            group=1,
        )
    )
    return out
