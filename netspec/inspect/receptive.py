"""Receptive field and jump of every tensor with spatial axes, from the compiled graph.

For a window op with kernel k, dilation d and stride s (per axis):
    r_out = r_in + (k - 1) * d * j_in        j_out = j_in * s
starting from r = j = 1 at the input. Elementwise ops (activations, batch norm, dropout, add)
pass both through; where inputs meet, the largest field wins. Flatten, dense and global
pooling end the spatial view (no entry)."""

from __future__ import annotations

WINDOW_OPS = ("conv", "max_pool", "avg_pool")
PASS_OPS = ("relu", "leaky_relu", "sigmoid", "tanh", "identity", "batch_norm", "dropout",
            "gaussian_noise", "add")  # fmt: skip


def receptive_fields(graph) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """tensor name -> (receptive field, jump), each per spatial axis, for image/signal tensors."""
    nd = len(graph.input_shape) - 2
    fields: dict = {}
    if nd < 1 or graph.input_dtype == "int64":
        return fields
    fields[graph.input_name] = ((1,) * nd, (1,) * nd)
    for node in graph.nodes:
        ins = [fields[t] for t in node.inputs if t in fields]
        if not ins or len(ins) != len(node.inputs) or node.features_last:
            continue
        if node.op in WINDOW_OPS:
            (r, j), a = ins[0], node.attrs
            dil = a.get("dilations", (1,) * nd)
            fields[node.name] = (
                tuple(r[i] + (a["kernel"][i] - 1) * dil[i] * j[i] for i in range(nd)),
                tuple(j[i] * a["strides"][i] for i in range(nd)),
            )
        elif node.op in PASS_OPS or node.op == "concat" and node.attrs.get("axis", -1) % len(node.shape) == 1:
            fields[node.name] = max(ins)
    return fields


def layer_fields(graph) -> dict[str, dict]:
    """spec layer name -> {"receptive_field": [...], "jump": [...]} for conv and pool layers."""
    fields = receptive_fields(graph)
    out: dict[str, dict] = {}
    for node in graph.nodes:
        if node.op in WINDOW_OPS and node.name in fields:
            last = node.layer if node.layer in fields else node.name
            r, j = fields[last]
            out[node.layer] = {"receptive_field": list(r), "jump": list(j)}
    return out
