"""A plain interpreter over the IR: the simplest correct forward pass.

Used by tests and by export parity checks as the executor's inference semantics; the training
plan (plan.py) must agree with it.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..kernels.padding import zero_padded_steps
from ..kernels.registry import RunContext, get_op


def forward_inference(graph: Graph, params: dict[str, np.ndarray], x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Run the graph in inference mode. `params` maps Param.name ("dense_1.weight") to arrays."""
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    ctx = RunContext(training=False, rng=None, dtype=dtype, lengths=lengths)
    plain = RunContext(training=False, rng=None, dtype=dtype)
    values = {graph.input_name: zero_padded_steps(x, lengths, graph.lengths_axis)}
    for node in graph.nodes:
        op = get_op(node.op)
        if op.forward is None:
            raise NotImplementedError(f"the executor has no kernel for op {node.op!r} yet")
        xs = [values[t] for t in node.inputs]
        p = {role: params[prm.name] for role, prm in node.params.items()}
        values[node.name], _ = op.forward(node.attrs, xs, p, ctx if graph.takes_lengths(node) else plain)
    return values[graph.output]
