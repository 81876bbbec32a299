"""rnn and lstm as ONNX RNN / LSTM (layout 0, forward direction, no initial state, so the batch
size stays free).

The executor's input is (batch, time, features): a Transpose makes it (time, batch, features).
Weights: kernel (in, G) -> W [1, G, in]; recurrent (H, G) -> R [1, G, H]; B [1, 2G] = input
bias then recurrent bias. LSTM gate blocks go from the executor's order i, f, g(c), o to ONNX's
i, o, f, c. Many-to-one reads Y_h [1, batch, H]; return_sequences reads Y [time, 1, batch, H],
squeezed of num_directions and transposed back to (batch, time, H). When the export has a
sequence-lengths input, it is passed as `sequence_lens`: onnxruntime then stops each sample's
state at its last real step and writes zeros at padded steps, as the executor does.
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
# blocks of the executor's gate order (i, f, g, o) in ONNX's order (i, o, f, c)
_LSTM_ORDER = (0, 3, 1, 2)


def _reorder(a: np.ndarray, gates: int, axis: int) -> np.ndarray:
    if gates == 1:
        return a
    blocks = np.split(a, gates, axis=axis)
    return np.concatenate([blocks[i] for i in _LSTM_ORDER], axis=axis)


def _activation_attrs(node) -> dict:
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


@emitter("rnn", "lstm")
def recurrent(ctx, node):
    gates = 4 if node.op == "lstm" else 1
    h = int(node.attrs["units"])
    kernel = _reorder(ctx.param(node, "kernel"), gates, axis=1)
    recur = _reorder(ctx.param(node, "recurrent"), gates, axis=1)
    bias = np.concatenate(
        [
            _reorder(ctx.param(node, "bias_ih"), gates, 0),
            _reorder(ctx.param(node, "bias_hh"), gates, 0),
        ]
    )
    w = ctx.initializer(f"{node.layer}.W", kernel.T[None])
    r = ctx.initializer(f"{node.layer}.R", recur.T[None])
    b = ctx.initializer(f"{node.layer}.B", bias[None])
    out: list = [w, r, b]

    xt, tr = ctx.transpose(node, ctx.input(node), (1, 0, 2))
    out.append(tr)
    ins = [xt, w.name, r.name, b.name] + ([ctx.lengths] if ctx.lengths else [])
    op_type = "LSTM" if gates == 4 else "RNN"
    attrs = {"hidden_size": h, "direction": "forward", **_activation_attrs(node)}
    if ctx.opset >= 14:
        attrs["layout"] = 0
    y = ctx.output(node)
    if node.attrs["return_sequences"]:
        seq = ctx.tmp(node, "Y")
        out.append(ctx.node(node, op_type, ins, [seq], **attrs))
        axes = ctx.ints(node, "axes", [1])
        squeezed = ctx.tmp(node, "Y_squeezed")
        out += [axes, ctx.node(node, "Squeeze", [seq, axes.name], [squeezed])]
        out.append(ctx.transpose(node, squeezed, (1, 0, 2), out=y)[1])
    else:
        last = ctx.tmp(node, "Y_h")
        out.append(ctx.node(node, op_type, ins, ["", last], **attrs))
        axes = ctx.ints(node, "axes", [0])
        out += [axes, ctx.node(node, "Squeeze", [last, axes.name], [y])]
    return out
