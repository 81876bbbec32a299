"""add (elementwise, same shapes) and concat (along attrs["axis"], batch axis excluded).

Backward returns views: add hands the same dy to every input and concat returns slices of dy,
so the executor must not modify returned gradients in place.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, ShapeError, register
from .shapes import format_dims
from .workspace import scratch


def add_infer(attrs: dict, ins: list[Shape]) -> Shape:
    if len(ins) < 2:
        raise ShapeError("add takes two or more `inputs`", "inputs")
    for s in ins[1:]:
        if s != ins[0]:
            raise ShapeError(
                "add needs inputs of the same shape, got "
                + " and ".join(format_dims(s) for s in ins),
                "inputs",
            )
    return ins[0]


def concat_infer(attrs: dict, ins: list[Shape]) -> Shape:
    if len(ins) < 2:
        raise ShapeError("concat takes two or more `inputs`", "inputs")
    rank = len(ins[0])
    axis = attrs["axis"] % rank if -rank <= attrs["axis"] < rank else None
    if axis is None or axis == 0:
        raise ShapeError(f"axis must select a non-batch axis of rank-{rank} inputs", "axis")
    total: int | str = 0
    for s in ins:
        if len(s) != rank or any(s[i] != ins[0][i] for i in range(rank) if i != axis):
            raise ShapeError(
                f"concat along axis {attrs['axis']} needs the other axes equal, got "
                + " and ".join(format_dims(s) for s in ins),
                "inputs",
            )
        if isinstance(s[axis], str) or isinstance(total, str):
            total = f"{total}+{s[axis]}" if total != 0 else s[axis]
        else:
            total += s[axis]
    return (*ins[0][:axis], total, *ins[0][axis + 1 :])


def _free(attrs, ins, out) -> int:
    return 0


def add_forward(attrs, xs, params, ctx):
    y = np.add(xs[0], xs[1], out=scratch(ctx, "y", np.broadcast_shapes(*(x.shape for x in xs)),
                                          np.result_type(*xs)))  # fmt: skip
    for x in xs[2:]:
        y += x
    return y, None


def add_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    return [dy if need else None for need in need_dx]


def concat_forward(attrs, xs, params, ctx):
    axis = attrs["axis"]
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    y = np.concatenate(xs, axis=axis, out=scratch(ctx, "y", tuple(shape), np.result_type(*xs)))
    return y, [x.shape[axis] for x in xs]


def concat_backward(attrs, dy, sizes, params, grads, need_dx, ctx):
    axis = attrs["axis"] % dy.ndim
    out, start = [], 0
    for size, need in zip(sizes, need_dx):
        index = (slice(None),) * axis + (slice(start, start + size),)
        out.append(dy[index] if need else None)
        start += size
    return out


register(OpDef("add", add_infer, forward=add_forward, backward=add_backward))
register(
    OpDef("concat", concat_infer, flops=_free, forward=concat_forward, backward=concat_backward)
)
