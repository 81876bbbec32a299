"""Parameter counts, FLOPs and a memory estimate, from shapes alone (nothing is allocated).

FLOPs are per sample for one forward pass: 2 x multiply-accumulate for dense, conv and recurrent
products (plus one per bias add), one per element for activations, normalization and pooling
windows, zero for reshapes. Symbolic dims other than batch count as 1 unless sizes are given
(derived dims such as "(height-3)/2+1" are evaluated from the given sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from ..ir.graph import Graph, Shape
from ..kernels.registry import get_op
from ..kernels.shapes import dim_size

BYTES = {"float32": 4, "float64": 8}


@dataclass
class Cost:
    params: int  # trainable + frozen (running statistics excluded, as PyTorch counts)
    trainable: int
    frozen: int
    state: int  # batch-norm running statistics
    flops: int  # per sample, forward
    node_flops: dict[str, int] = field(default_factory=dict)
    layer_params: dict[str, int] = field(default_factory=dict)
    layer_flops: dict[str, int] = field(default_factory=dict)
    batch: int = 1
    activation_bytes: int = 0  # all node outputs at `batch`
    train_bytes: int = 0  # params x (value, grad, optimizer slots) + activations x 2
    optimizer_slots: int = 2
    symbolic: tuple[str, ...] = ()


def _concrete(shape: Shape, sizes: dict[str, int]) -> tuple[int, ...]:
    return tuple(dim_size(d, sizes) for d in shape)


def optimizer_slots(opt) -> int:
    """Arrays an optimizer keeps per parameter: momentum, Adam's two moments, RMSprop's average."""
    if opt.type == "adam":
        return 2
    if opt.type == "rmsprop":
        return 1 + (opt.momentum > 0)
    return int(opt.momentum > 0)


def estimate(graph: Graph, batch: int = 1, dims: dict[str, int] | None = None, dtype: str = "float32",
             slots: int = 2) -> Cost:  # fmt: skip
    sizes = {**(dims or {}), "batch": 1}
    itemsize = BYTES[dtype]
    c = Cost(0, 0, 0, 0, 0, batch=batch)
    symbolic = {d for d in graph.input_shape[1:] if isinstance(d, str)}
    act = 0
    for node in graph.nodes:
        op = get_op(node.op)
        ins = [_concrete(graph.shape_of(t), sizes) for t in node.inputs]
        out = _concrete(node.shape, sizes)
        f = op.flops(node.attrs, ins, out)
        c.node_flops[node.name] = f
        c.layer_flops[node.layer] = c.layer_flops.get(node.layer, 0) + f
        c.flops += f
        act += prod(out[1:])
        for p in node.params.values():
            if p.kind == "state":
                c.state += p.size
                continue
            c.layer_params[node.layer] = c.layer_params.get(node.layer, 0) + p.size
            c.params += p.size
            if p.trainable:
                c.trainable += p.size
            else:
                c.frozen += p.size
        c.layer_params.setdefault(node.layer, 0)
    c.activation_bytes = act * batch * itemsize
    c.optimizer_slots = slots
    c.train_bytes = ((2 + slots) * c.params + c.state) * itemsize + 2 * c.activation_bytes
    c.symbolic = tuple(sorted(symbolic))
    return c


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
