"""rnn, lstm and gru as ONNX RNN / LSTM / GRU (layout 0, no constant initial state, so the batch
size stays free).

The executor's input is (batch, time, features): a Transpose makes it (time, batch, features).
Weights: kernel (in, G) -> W [1, G, in]; recurrent (H, G) -> R [1, G, H]; B [1, 2G] = input
bias then recurrent bias. LSTM gate blocks go from the executor's order i, f, g(c), o to ONNX's
i, o, f, c. Many-to-one reads Y_h [1, batch, H]; return_sequences reads Y [time, 1, batch, H],
squeezed of num_directions and transposed back to (batch, time, H). GRU gate blocks go from
PyTorch's r, z, n to ONNX's z, r, h, with linear_before_reset = 1 (PyTorch's cell).
`bidirectional`: direction "bidirectional", W/R/B stacked forward then reverse, and Y
[time, 2, batch, H] / Y_h [2, batch, H] transposed and reshaped to the executor's
concatenation [forward, backward] on the last axis. When the export has a sequence-lengths
input and the layer runs over the input's time axis, it is passed as `sequence_lens`:
onnxruntime then stops each sample's state at its last real step (and starts the reverse
direction there) and writes zeros at padded steps, as the executor does.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExportError
from . import emitter

# executor activation -> (ONNX RNN activation, activation_alpha, activation_beta)
_RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "identity": ("Affine", 1.0, 0.0),
}
# blocks of the executor's gate order in ONNX's order: lstm (i, f, g, o) -> (i, o, f, c),
# gru (r, z, n) -> (z, r, h)
_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}
_OP_TYPES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _reorder(a: np.ndarray, op: str, axis: int) -> np.ndarray:
    order = _ORDER[op]
    blocks = np.split(a, len(order), axis=axis)
    return np.concatenate([blocks[i] for i in order], axis=axis)


def _activation_attrs(node) -> dict:
    if node.op == "gru":
        return {"linear_before_reset": 1}
    if node.op == "lstm":
        return {}
    act = node.attrs.get("activation", "tanh")
    if act == "leaky_relu":
        return {
            "activations": ["LeakyRelu"],
            "activation_alpha": [float(node.attrs.get("alpha", 0.01))],
        }
    if act not in _RNN_ACTIVATIONS:
        raise ExportError(
            f"rnn `{node.layer}` uses activation {act!r}, which ONNX RNN cannot express; "
            f"use one of {', '.join(sorted(_RNN_ACTIVATIONS))} or leaky_relu"
        )
    name, alpha, beta = _RNN_ACTIVATIONS[act]
    attrs = {"activations": [name]}
    if alpha is not None:
        attrs["activation_alpha"] = [alpha]
        attrs["activation_beta"] = [beta]
    return attrs


def _weights(ctx, node, suffix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W [G, in], R [G, H], B [2G] of one direction, in ONNX's gate order."""
    op = node.op
    kernel = _reorder(ctx.param(node, "kernel" + suffix), op, axis=1)
    recur = _reorder(ctx.param(node, "recurrent" + suffix), op, axis=1)
    bias = np.concatenate([_reorder(ctx.param(node, "bias_ih" + suffix), op, 0),
                           _reorder(ctx.param(node, "bias_hh" + suffix), op, 0)])  # fmt: skip
    return kernel.T, recur.T, bias


@emitter("rnn", "lstm", "gru")
def recurrent(ctx, node):
    h = int(node.attrs["units"])
    bidi = bool(node.attrs.get("bidirectional"))
    dirs = [_weights(ctx, node, "")] + ([_weights(ctx, node, "_reverse")] if bidi else [])
    w = ctx.initializer(f"{node.layer}.W", np.stack([d[0] for d in dirs]))
    r = ctx.initializer(f"{node.layer}.R", np.stack([d[1] for d in dirs]))
    b = ctx.initializer(f"{node.layer}.B", np.stack([d[2] for d in dirs]))
    out: list = [w, r, b]

    xt, tr = ctx.transpose(node, ctx.input(node), (1, 0, 2))
    out.append(tr)
    lengths = ctx.lengths if ctx.lengths and ctx.graph.takes_lengths(node) else ""
    ins = [xt, w.name, r.name, b.name, lengths]
    if len(node.inputs) > 1:  # initial state (batch, H) / lstm (batch, 2H) -> [1, batch, H] each
        states = _initial_state(ctx, node, h)
        out += states[0]
        ins += states[1]
    op_type = _OP_TYPES[node.op]
    # one activation list per direction
    acts = {k: v * len(dirs) if isinstance(v, list) else v for k, v in _activation_attrs(node).items()}
    attrs = {"hidden_size": h, "direction": "bidirectional" if bidi else "forward", **acts}
    if ctx.opset >= 14:
        attrs["layout"] = 0
    y = ctx.output(node)
    if bidi:
        return out + _bidirectional_outputs(ctx, node, op_type, _trim(ins), attrs, y)
    if node.attrs.get("state_output"):  # lstm encoder: [Y_h, Y_c] squeezed and concatenated
        last, cell = ctx.tmp(node, "Y_h"), ctx.tmp(node, "Y_c")
        axes = ctx.ints(node, "axes", [0])
        hs, cs = ctx.tmp(node, "h"), ctx.tmp(node, "c")
        return out + [ctx.node(node, op_type, _trim(ins), ["", last, cell], **attrs), axes,
                      ctx.node(node, "Squeeze", [last, axes.name], [hs]),
                      ctx.node(node, "Squeeze", [cell, axes.name], [cs]),
                      ctx.node(node, "Concat", [hs, cs], [y], axis=1)]  # fmt: skip
    if node.attrs["return_sequences"]:
        seq = ctx.tmp(node, "Y")
        out.append(ctx.node(node, op_type, _trim(ins), [seq], **attrs))
        axes = ctx.ints(node, "axes", [1])
        squeezed = ctx.tmp(node, "Y_squeezed")
        out += [axes, ctx.node(node, "Squeeze", [seq, axes.name], [squeezed])]
        out.append(ctx.transpose(node, squeezed, (1, 0, 2), out=y)[1])
    else:
        last = ctx.tmp(node, "Y_h")
        out.append(ctx.node(node, op_type, _trim(ins), ["", last], **attrs))
        axes = ctx.ints(node, "axes", [0])
        out += [axes, ctx.node(node, "Squeeze", [last, axes.name], [y])]
    return out


def _initial_state(ctx, node, h: int) -> tuple[list, list[str]]:
    """(nodes, [initial_h(, initial_c)]) from the state input, computed (never a constant), so
    the batch size stays free."""
    axes = ctx.ints(node, "state_axes", [0])
    nodes: list = [axes]
    parts = [ctx.input(node, 1)]
    if node.op == "lstm":
        split = ctx.ints(node, "state_split", [h, h])
        parts = [ctx.tmp(node, "h0"), ctx.tmp(node, "c0")]
        nodes += [split, ctx.node(node, "Split", [ctx.input(node, 1), split.name], parts, axis=1)]
    names = []
    for p in parts:
        names.append(ctx.tmp(node, "initial"))
        nodes.append(ctx.node(node, "Unsqueeze", [p, axes.name], [names[-1]]))
    return nodes, names


def _trim(ins: list[str]) -> list[str]:
    """Drop trailing empty (omitted) optional inputs."""
    while ins and not ins[-1]:
        ins = ins[:-1]
    return ins


def _bidirectional_outputs(ctx, node, op_type, ins, attrs, y) -> list:
    """Y [T, 2, B, H] -> (B, T, 2H), or Y_h [2, B, H] -> (B, 2H): forward features first."""
    out: list = []
    if node.attrs["return_sequences"]:
        seq = ctx.tmp(node, "Y")
        out.append(ctx.node(node, op_type, ins, [seq], **attrs))
        seq_t, tr = ctx.transpose(node, seq, (2, 0, 1, 3))
        shape = ctx.ints(node, "shape", [0, 0, -1])
    else:
        seq = ctx.tmp(node, "Y_h")
        out.append(ctx.node(node, op_type, ins, ["", seq], **attrs))
        seq_t, tr = ctx.transpose(node, seq, (1, 0, 2))
        shape = ctx.ints(node, "shape", [0, -1])
    return out + [tr, shape, ctx.node(node, "Reshape", [seq_t, shape.name], [y])]
