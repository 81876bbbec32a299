"""rnn, lstm and gru over (batch, time, features).

Parameters follow PyTorch's layout and count (two bias vectors): rnn has kernel (in, H),
recurrent (H, H), bias_ih and bias_hh (H); lstm has kernel (in, 4H), recurrent (H, 4H),
bias_ih, bias_hh (4H), gates in the order input, forget, cell, output; gru has kernel (in, 3H),
recurrent (H, 3H), bias_ih, bias_hh (3H), gates reset, update, new (as PyTorch).
With `bidirectional`, a second set of the same parameters ("<role>_reverse") runs the reversed
direction (bidirectional.py) and the output has 2H features. A second input is the initial
state (batch, H) ((batch, 2H) = [h, c] for lstm), from an encoder's final state.

The kernels live in rnn_kernels.py and lstm_kernels.py (variable-length handling shared in
recurrent_layout.py). The lstm is the standard PyTorch / ONNX cell:
c_t = f * c_{t-1} + i * tanh(g), h_t = o * tanh(c_t) (see lstm_kernels.py).
"""

from __future__ import annotations

from ..ir.graph import Shape
from .bidirectional import REVERSE, wrap
from .gru_kernels import gru_backward, gru_forward
from .lstm_kernels import lstm_backward, lstm_forward
from .registry import OpDef, ParamSpec, ShapeError, register
from .rnn_kernels import rnn_activation, rnn_backward, rnn_forward
from .shapes import fixed, format_dims, need_rank


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
    if len(ins) > 1:
        want = h * (2 if attrs["kind"] == "lstm" else 1)
        st = ins[1]
        if len(st) != 2 or st[1] != want:
            raise ShapeError(
                f"the initial state of a {attrs['kind']} with {h} units must have shape (batch, {want})"
                + (" (h and c)" if attrs["kind"] == "lstm" else "")
                + f", got {format_dims(st)}: give initial_state an encoder of the same type and units",
                "initial_state",
            )
    if attrs.get("state_output"):  # an encoder read by a decoder's initial_state
        return (x[0], h * (2 if attrs["kind"] == "lstm" else 1))
    if attrs.get("bidirectional"):
        h *= 2
    return (x[0], x[1], h) if attrs["return_sequences"] else (x[0], h)


def _params(gates: int):
    def params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
        n_in, h = ins[0][2], attrs["units"]
        g = gates * h
        bias_init = "forget_bias" if gates == 4 else "zeros"
        one = {
            "kernel": ParamSpec((n_in, g), attrs["init"], n_in, g),
            "recurrent": ParamSpec((h, g), attrs["init"], h, g),
            "bias_ih": ParamSpec((g,), bias_init, n_in, g, kind="bias", fill=attrs.get("forget_bias", 1.0)),
            "bias_hh": ParamSpec((g,), "zeros", h, g, kind="bias"),
        }
        if attrs.get("bidirectional"):
            one.update({role + REVERSE: ps for role, ps in list(one.items())})
        return one

    return params


def _flops(gates: int):
    def flops(attrs: dict, ins, out) -> int:
        t, n_in = ins[0][1], ins[0][2]
        h = attrs["units"]
        per_step = 2 * gates * h * (n_in + h) + 2 * gates * h + {1: h, 3: 6 * h, 4: 6 * h}[gates]
        return t * per_step * (2 if attrs.get("bidirectional") else 1)

    return flops


register(OpDef("rnn", infer, _params(1), _flops(1), *wrap(rnn_forward, rnn_backward)))
register(OpDef("lstm", infer, _params(4), _flops(4), *wrap(lstm_forward, lstm_backward)))
register(OpDef("gru", infer, _params(3), _flops(3), *wrap(gru_forward, gru_backward)))
