"""repeat (Keras RepeatVector): (batch, F) -> (batch, length, F), the vector at every step.

`length` is a number, or the name of a symbolic axis of the model input: then the op has the
model input as a second input and takes that axis' size (`input_axis`) from it at run time, so
an output sequence can be as long as the input sequence. Backward sums over the new axis.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, ShapeError, register
from .shapes import need_rank


def infer(attrs: dict, ins: list[Shape]) -> Shape:
    need_rank(ins[0], 2, "a repeat layer", "(batch, features)")
    return (ins[0][0], attrs["length"], ins[0][1])


def resolve(attrs: dict, ins: list[Shape]) -> dict:
    if len(ins) < 2:
        return attrs
    if attrs["length"] not in ins[1][1:]:
        named = [d for d in ins[1][1:] if isinstance(d, str)]
        raise ShapeError(
            f'length "{attrs["length"]}" must be a number or a symbolic axis of model.input_shape'
            + (f" ({', '.join(named)})" if named else " (it has none)"),
            "length",
        )
    return {**attrs, "input_axis": list(ins[1]).index(attrs["length"])}


def _steps(attrs: dict, xs: list[np.ndarray]) -> int:
    return int(attrs["length"]) if len(xs) == 1 else int(xs[1].shape[attrs["input_axis"]])


def forward(attrs, xs, params, ctx):
    x = xs[0]
    y = np.empty((x.shape[0], _steps(attrs, xs), x.shape[1]), dtype=x.dtype)
    y[...] = x[:, None, :]
    return y, None


def backward(attrs, dy, cache, params, grads, need_dx, ctx):
    return [dy.sum(axis=1) if need_dx[0] else None] + [None] * (len(need_dx) - 1)


def flops(attrs, ins, out) -> int:
    return 0


register(OpDef("repeat", infer, flops=flops, forward=forward, backward=backward, resolve=resolve))
