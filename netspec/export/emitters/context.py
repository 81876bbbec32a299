"""What an emitter needs besides the node: ONNX names of tensors, parameters as initializers,
unique names for intermediate tensors and nodes, and the target opset."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from ...ir.graph import Graph, Node, Shape


@dataclass
class EmitContext:
    graph: Graph
    params: dict[str, np.ndarray]
    opset: int
    # IR tensor name -> ONNX tensor name (identity ops map their output to their input's name)
    names: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    # ONNX name of the per-sample sequence-lengths input (int32, shape (batch,)), if exported
    lengths: str | None = None

    # -- names ---------------------------------------------------------------------------------
    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def input(self, node: Node, i: int = 0) -> str:
        return self.names[node.inputs[i]]

    def inputs(self, node: Node) -> list[str]:
        return [self.names[t] for t in node.inputs]

    def output(self, node: Node) -> str:
        return self.names[node.name]

    def tmp(self, node: Node, what: str) -> str:
        """A fresh name for an intermediate tensor of `node`'s emission."""
        return self.unique(f"{node.name}/{what}")

    def alias(self, node: Node, tensor: str) -> None:
        """Make `node`'s output the same ONNX tensor as `tensor` (identity at inference)."""
        self.names[node.name] = self.names[tensor]

    # -- shapes --------------------------------------------------------------------------------
    def shape(self, tensor: str) -> Shape:
        return self.graph.shape_of(tensor)

    def rank(self, tensor: str) -> int:
        return len(self.shape(tensor))

    # -- building blocks -----------------------------------------------------------------------
    def node(
        self, node: Node, op_type: str, inputs: list[str], outputs: list[str], **attrs
    ) -> NodeProto:
        """An ONNX node named after the IR node it implements ("dense_1/Gemm")."""
        name = self.unique(f"{node.name}/{op_type}")
        return helper.make_node(op_type, inputs, outputs, name=name, **attrs)

    def param(self, node: Node, role: str) -> np.ndarray:
        """The float32 value of `node`'s parameter `role`, checked against its declared shape."""
        from ..errors import ExportError

        prm = node.params[role]
        if prm.name not in self.params:
            raise ExportError(f"parameter {prm.name!r} is missing from the parameters given")
        value = np.asarray(self.params[prm.name], dtype=np.float32)
        if value.shape != tuple(prm.shape):
            raise ExportError(
                f"parameter {prm.name!r} has shape {value.shape}, the graph expects {tuple(prm.shape)}"
            )
        return value

    def initializer(self, name: str, value: np.ndarray) -> TensorProto:
        return numpy_helper.from_array(np.ascontiguousarray(value), self.unique(name))

    def param_init(self, node: Node, role: str) -> TensorProto:
        """`node`'s parameter `role` as an initializer named like the parameter ("dense_1.weight")."""
        return self.initializer(node.params[role].name, self.param(node, role))

    def ints(self, node: Node, what: str, values) -> TensorProto:
        """An int64 1-D constant (axes, shapes) as an initializer."""
        return self.initializer(f"{node.name}/{what}", np.asarray(list(values), dtype=np.int64))

    def transpose(self, node: Node, x: str, perm, out: str | None = None) -> tuple[str, NodeProto]:
        y = out or self.tmp(node, "transposed")
        return y, self.node(node, "Transpose", [x], [y], perm=list(perm))
