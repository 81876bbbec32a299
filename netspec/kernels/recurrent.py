"""rnn and lstm over (batch, time, features).

Parameters follow PyTorch's layout and count (two bias vectors): rnn has kernel (in, H),
recurrent (H, H), bias_ih and bias_hh (H); lstm has kernel (in, 4H), recurrent (H, 4H),
bias_ih, bias_hh (4H), gates in the order input, forget, cell, output.

The kernels live in rnn_kernels.py and lstm_kernels.py (variable-length handling shared in
recurrent_layout.py). The lstm is the standard PyTorch / ONNX cell:
c_t = f * c_{t-1} + i * tanh(g), h_t = o * tanh(c_t) (see lstm_kernels.py).
"""

from __future__ import annotations

from ..ir.graph import Shape
from .lstm_kernels import lstm_backward, lstm_forward
from .registry import OpDef, ParamSpec, ShapeError, register
from .rnn_kernels import rnn_activation, rnn_backward, rnn_forward
from .shapes import fixed, need_rank


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    x = ins[0]
    need_rank(x, 3, attrs["kind"], "(batch, time, features)")
    fixed(x[2], f"the feature axis of an {attrs['kind']} layer's input")
    if attrs["kind"] == "rnn":
        try:
            rnn_activation(attrs)
        except ValueError as exc:
            raise ShapeError(str(exc), "activation") from None
    h = attrs["units"]
    return (x[0], x[1], h) if attrs["return_sequences"] else (x[0], h)


def _params(gates: int):
    def params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
        n_in, h = ins[0][2], attrs["units"]
        g = gates * h
        bias_init = "forget_bias" if gates == 4 else "zeros"
        return {
            "kernel": ParamSpec((n_in, g), attrs["init"], n_in, g),
            "recurrent": ParamSpec((h, g), attrs["init"], h, g),
            "bias_ih": ParamSpec((g,), bias_init, n_in, g, kind="bias", fill=attrs.get("forget_bias", 1.0)),
            "bias_hh": ParamSpec((g,), "zeros", h, g, kind="bias"),
        }

    return params


def _flops(gates: int):
    def flops(attrs: dict, ins, out) -> int:
        t, n_in = ins[0][1], ins[0][2]
        h = attrs["units"]
        per_step = 2 * gates * h * (n_in + h) + 2 * gates * h + (6 * h if gates == 4 else h)
        return t * per_step

    return flops


register(OpDef("rnn", infer, _params(1), _flops(1), forward=rnn_forward, backward=rnn_backward))
register(OpDef("lstm", infer, _params(4), _flops(4), forward=lstm_forward, backward=lstm_backward))
