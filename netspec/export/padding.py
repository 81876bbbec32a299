"""The ONNX twin of kernels/padding.py: padded steps of the (standardized) input become 0.

    steps = Shape(x)[axis];  real = Range(0, steps) < Unsqueeze(Cast(lengths), 1)   (batch, steps)
    x = Where(Unsqueeze(real, other axes), x, 0)

Emitted right after the Sub/Div of standardization whenever the model has a lengths input,
so the served model reads padded steps exactly as training did, whatever they hold.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..ir.graph import Graph


def mask_padded_steps(graph: Graph, ctx) -> list:
    x = ctx.names[graph.input_name]
    axis = graph.lengths_axis
    rank = len(graph.input_shape)
    dtype = np.int64 if graph.input_dtype == "int64" else np.float32
    n = ctx.unique

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value), n(f"padding/{name}"))

    zero, one, index, zero_t = const("zero", np.int64(0)), const("one", np.int64(1)), const("axis", np.int64(axis)), const("fill", dtype(0))
    batch_axes = const("batch_axes", np.asarray([1], np.int64))
    other = const("other_axes", np.asarray([k for k in range(1, rank) if k != axis], np.int64))
    shape, steps, rng, lens, lens2, real, real_nd, out = (n(f"padding/{t}") for t in (
        "shape", "steps", "range", "lengths64", "lengths_col", "real", "real_nd", "x"))  # fmt: skip
    nodes = [
        helper.make_node("Shape", [x], [shape], name=n("padding/Shape")),
        helper.make_node("Gather", [shape, index.name], [steps], name=n("padding/Gather"), axis=0),
        helper.make_node("Range", [zero.name, steps, one.name], [rng], name=n("padding/Range")),
        helper.make_node("Cast", [ctx.lengths], [lens], name=n("padding/Cast"), to=TensorProto.INT64),
        helper.make_node("Unsqueeze", [lens, batch_axes.name], [lens2], name=n("padding/Unsqueeze")),
        helper.make_node("Less", [rng, lens2], [real], name=n("padding/Less")),
    ]
    if rank > 2:
        nodes.append(helper.make_node("Unsqueeze", [real, other.name], [real_nd], name=n("padding/Unsqueeze")))
    else:
        real_nd = real
    nodes.append(helper.make_node("Where", [real_nd, x, zero_t.name], [out], name=n("padding/Where")))
    ctx.names[graph.input_name] = out
    inits = [zero, one, index, zero_t, batch_axes] + ([other] if rank > 2 else [])
    return inits + nodes
