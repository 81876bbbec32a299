"""Render a Graph as text (the grammar in netspec/ir/graph.py), Mermaid, Graphviz dot or a plain
dict (for `--json`). Pure functions returning strings: nothing here prints.

Text form, one line per node:

    input: (batch, 64) float32
    fc.pre = dense(input) {units=10, use_bias=true, init=glorot_uniform} [weight (64, 10), bias (10)] : (batch, 10)
    fc = relu(fc.pre) : (batch, 10)
    output: fc

`attrs` is `{key=value, ...}` (omitted when empty); `params` is `[role shape, ...]` (omitted
when the node has none), a frozen parameter is marked `frozen`, batch-norm running statistics
`state`. The last line names the output tensor.
"""

from __future__ import annotations

from .graph import Graph, Node, format_shape


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def format_attrs(attrs: dict) -> str:
    if not attrs:
        return ""
    return "{" + ", ".join(f"{k}={_value(v)}" for k, v in attrs.items()) + "}"


def format_params(node: Node) -> str:
    if not node.params:
        return ""
    parts = []
    for role, p in node.params.items():
        dims = "(" + ", ".join(str(d) for d in p.shape) + ")"
        mark = " state" if p.kind == "state" else ("" if p.trainable else " frozen")
        parts.append(f"{role} {dims}{mark}")
    return "[" + ", ".join(parts) + "]"


def node_line(node: Node) -> str:
    head = f"{node.name} = {node.op}({', '.join(node.inputs)})"
    extras = " ".join(s for s in (format_attrs(node.attrs), format_params(node)) if s)
    return f"{head}{' ' + extras if extras else ''} : {format_shape(node.shape)}"


def to_text(graph: Graph) -> str:
    lines = [f"{graph.input_name}: {format_shape(graph.input_shape)} {graph.input_dtype}"]
    lines += [node_line(n) for n in graph.nodes]
    lines.append(f"output: {graph.output}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- Mermaid


def _mermaid_escape(s: str) -> str:
    return s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid_label(*parts: str) -> str:
    return '"' + "<br/>".join(_mermaid_escape(p) for p in parts) + '"'


def to_mermaid(graph: Graph, direction: str = "TD") -> str:
    """A Mermaid flowchart: one box per node (name, op, output shape), edges by tensor."""
    ids = {graph.input_name: "n0"}
    for i, node in enumerate(graph.nodes, start=1):
        ids[node.name] = f"n{i}"
    lines = [f"flowchart {direction}"]
    label = _mermaid_label(
        graph.input_name, f"{format_shape(graph.input_shape)} {graph.input_dtype}"
    )
    lines.append(f"    n0([{label}])")
    for node in graph.nodes:
        label = _mermaid_label(node.name, node.op, format_shape(node.shape))
        lines.append(f"    {ids[node.name]}[{label}]")
    for node in graph.nodes:
        for t in node.inputs:
            lines.append(f"    {ids[t]} --> {ids[node.name]}")
    lines.append("    classDef io stroke-width:3px")
    lines.append(f"    class n0,{ids[graph.output]} io")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------- Graphviz dot


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _q(s: str) -> str:
    """A quoted dot id."""
    return f'"{_dot_escape(s)}"'


def _dot_label(*parts: str) -> str:
    """A quoted dot label, one line per part (dot's own `\\n` line break)."""
    return '"' + "\\n".join(_dot_escape(p) for p in parts) + '"'


def to_dot(graph: Graph) -> str:
    """A Graphviz digraph: node ids are the tensor names, labels show name, op and shape."""
    lines = [
        f"digraph {_q(graph.name)} {{",
        "    rankdir=TB;",
        '    node [shape=box, fontname="Helvetica"];',
    ]
    label = _dot_label(graph.input_name, f"{format_shape(graph.input_shape)} {graph.input_dtype}")
    lines.append(f"    {_q(graph.input_name)} [label={label}, shape=oval];")
    for node in graph.nodes:
        extra = ", peripheries=2" if node.name == graph.output else ""
        label = _dot_label(node.name, node.op, format_shape(node.shape))
        lines.append(f"    {_q(node.name)} [label={label}{extra}];")
    for node in graph.nodes:
        for t in node.inputs:
            lines.append(f"    {_q(t)} -> {_q(node.name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- JSON


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def to_dict(graph: Graph) -> dict:
    """A JSON-ready description of the graph (shapes as lists, symbolic dims as strings)."""
    return {
        "name": graph.name,
        "input": {
            "name": graph.input_name,
            "shape": list(graph.input_shape),
            "dtype": graph.input_dtype,
        },
        "output": graph.output,
        "loss": graph.loss,
        "nodes": [
            {
                "name": n.name,
                "op": n.op,
                "inputs": list(n.inputs),
                "attrs": _jsonable(n.attrs),
                "shape": list(n.shape),
                "layer": n.layer,
                "params": {
                    role: {"shape": list(p.shape), "kind": p.kind, "trainable": p.trainable}
                    for role, p in n.params.items()
                },
            }
            for n in graph.nodes
        ],
    }
