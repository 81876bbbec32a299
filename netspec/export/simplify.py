"""Peephole clean-up of an exported graph: a Transpose that undoes the Transpose feeding it (as
stacked recurrent layers produce: layer 1 turns (time, batch, H) back to (batch, time, H) and
layer 2 turns it straight back) is removed, and so is the first one when nothing else reads it.
Runs on the node list before the graph is built; the graph output is never rewired."""

from __future__ import annotations

import onnx
from onnx import helper


def _perm(node: onnx.NodeProto) -> list[int] | None:
    for a in node.attribute:
        if a.name == "perm":
            return list(helper.get_attribute_value(a))
    return None


def cancel_transposes(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    producer = {o: n for n in nodes for o in n.output}
    rename: dict[str, str] = {}
    dropped: set[int] = set()
    for n in nodes:
        if n.op_type != "Transpose" or n.output[0] in outputs:
            continue
        first = producer.get(n.input[0])
        if first is None or first.op_type != "Transpose":
            continue
        p1, p2 = _perm(first), _perm(n)
        if p1 is None or p2 is None or len(p1) != len(p2):
            continue
        if [p1[i] for i in p2] == list(range(len(p1))):  # the pair is the identity
            rename[n.output[0]] = first.input[0]
            dropped.add(id(n))
    if not rename:
        return nodes
    kept = [n for n in nodes if id(n) not in dropped]
    for n in kept:
        for i, name in enumerate(n.input):
            while name in rename:
                name = rename[name]
            n.input[i] = name
    read = {i for n in kept for i in n.input} | outputs
    return [n for n in kept if not (n.op_type == "Transpose" and n.output[0] not in read)]
