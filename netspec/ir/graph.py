"""The intermediate graph: named tensors, ops and parameters.

Grammar (one line per node, as `netspec graph` prints it):

    graph   := input node* output
    input   := "input" ":" shape dtype
    node    := name "=" op "(" tensor ("," tensor)* ")" attrs params ":" shape
    shape   := "(" dim ("," dim)* ")"     dim := int | symbol   (dim 0 is always "batch")

Every node produces one tensor named after the node. A layer lowers to one node, or two when it
has a fused activation (`<layer>.pre` then `<layer>`), so a layer's name always names its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

Dim = int | str
Shape = tuple[Dim, ...]
INPUT = "input"
INPUT_TIME = "input.time"
RECURRENT_OPS = ("rnn", "lstm", "gru")
# The output activation each classification loss pairs with; the loss takes its logits.
FUSED_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


@dataclass
class Param:
    """A parameter or state tensor. `kind` is "weight", "bias" or "state" (e.g. batch-norm
    running statistics: saved and exported, never trained or regularized)."""

    name: str
    shape: tuple[int, ...]
    init: str
    fan_in: int = 1
    fan_out: int = 1
    kind: str = "weight"
    trainable: bool = True
    l1: float = 0.0  # the layer's own penalties (the global ones are added when training)
    l2: float = 0.0
    regularized: bool = False  # weights of dense/conv/rnn/lstm/embedding; never biases or state
    fill: float = 1.0  # the constant of the "forget_bias" initializer (lstm forget_bias)

    @property
    def size(self) -> int:
        return prod(self.shape)


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    attrs: dict
    shape: Shape
    layer: str
    path: tuple = ()  # spec key path of the layer, for located errors
    params: dict[str, Param] = field(default_factory=dict)  # role -> Param
    dtype: str = "float32"
    features_last: bool = False  # layout: (batch, time, features) rather than channels-first
    # Where axis 1 of this tensor comes from, when it is a time axis: INPUT_TIME for the model
    # input's time axis (the one data.lengths_key describes), else None. Recurrent layers get
    # the per-sample lengths only when their input's time axis is INPUT_TIME.
    time_axis: str | None = None


@dataclass
class Graph:
    name: str
    input_shape: Shape
    input_dtype: str
    nodes: list[Node]
    output: str
    loss: str
    input_name: str = INPUT

    def node(self, name: str) -> Node:
        """The node named `name`, through a name -> position index (a linear scan per lookup made
        compiling a 10,000-layer spec quadratic). Passes may edit `nodes`: a stale entry is
        detected by the name at its position, and the index rebuilt."""
        index = self.__dict__.get("_index")
        for attempt in (0, 1):
            if attempt or index is None:
                index = {}
                for i, n in enumerate(self.nodes):
                    index.setdefault(n.name, i)
                self.__dict__["_index"] = index
            i = index.get(name)
            if i is not None and i < len(self.nodes) and self.nodes[i].name == name:
                return self.nodes[i]
        raise KeyError(name)

    @property
    def params(self) -> list[Param]:
        return [p for n in self.nodes for p in n.params.values()]

    @property
    def output_shape(self) -> Shape:
        return self.node(self.output).shape

    @property
    def lengths_axis(self) -> int:
        """The input axis per-sample lengths count steps along: the first symbolic one, else 1."""
        return next((k for k, d in enumerate(self.input_shape) if k and isinstance(d, str)), 1)

    def time_axis_of(self, tensor: str) -> str | None:
        return INPUT_TIME if tensor == self.input_name else self.node(tensor).time_axis

    def takes_lengths(self, node: Node) -> bool:
        """Whether `node` is a recurrent layer over the input's time axis (gets the lengths)."""
        return node.op in RECURRENT_OPS and self.time_axis_of(node.inputs[0]) == INPUT_TIME

    def shape_of(self, tensor: str) -> Shape:
        return self.input_shape if tensor == self.input_name else self.node(tensor).shape


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"
