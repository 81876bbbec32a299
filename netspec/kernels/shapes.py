"""Shape helpers shared by the op families' shape rules (pure functions, no arrays)."""

from __future__ import annotations

import ast

from ..ir.graph import Dim, Shape
from .registry import ShapeError


def fixed(d: Dim, what: str, key: str | None = None) -> int:
    """A dimension that must be a number (not symbolic) for this op."""
    if isinstance(d, str):
        raise ShapeError(
            f"{what} must have a fixed size, but it is the symbolic dimension `{d}`; "
            "a symbolic size reaches a dense layer only through a global pooling layer",
            key,
        )
    return d


def need_rank(shape: Shape, rank: int, what: str, layout: str) -> None:
    if len(shape) != rank:
        raise ShapeError(
            f"{what} expects input of rank {rank} {layout} (batch included), "
            f"got shape {format_dims(shape)}"
        )


def format_dims(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def window_out(length: Dim, kernel: int, stride: int, pad_total: int, dilation: int, key: str) -> Dim:
    """Output length of a sliding window (conv or pool), floor mode."""
    span = dilation * (kernel - 1) + 1
    if isinstance(length, str):
        if stride == 1 and pad_total == span - 1:
            return length
        expr = f"{length}+{pad_total}" if pad_total else length
        expr = f"({expr}-{span})" if span > 1 else expr
        return f"{expr}/{stride}+1" if stride > 1 else f"{expr}+1"
    padded = length + pad_total
    if span > padded:
        raise ShapeError(
            f"the window ({kernel}" + (f", dilated to {span}" if dilation > 1 else "")
            + f") is larger than the padded input ({length}"
            + (f" + {pad_total} padding" if pad_total else "") + "); use a smaller size or padding",
            key,
        )
    return (padded - span) // stride + 1


def same_pads(length: Dim, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Begin/end padding for "same": output = ceil(length / stride); extra padding at the end
    (as TensorFlow/Keras and ONNX SAME_UPPER)."""
    span = dilation * (kernel - 1) + 1
    if isinstance(length, str):
        if stride != 1:
            raise ShapeError(
                f'padding = "same" with strides > 1 needs a fixed input size, got `{length}`',
                "padding",
            )
        total = span - 1
    else:
        out = -(-length // stride)
        total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def per_axis(value: int | list[int], nd: int, key: str) -> tuple[int, ...]:
    """Normalize an int-or-list hyperparameter to one value per spatial axis."""
    if isinstance(value, int):
        return (value,) * nd
    if len(value) == 1:
        return tuple(value) * nd
    if len(value) != nd:
        raise ShapeError(f"expected {nd} value(s) (one per spatial axis), got {len(value)}", key)
    return tuple(value)


def resolve_pads(padding, spatial: Shape, kernel, strides, dilations) -> tuple[int, ...]:
    """ONNX-style pads [begin_0, ..., begin_n, end_0, ..., end_n] for a padding setting."""
    nd = len(spatial)
    if padding == "valid":
        return (0,) * (2 * nd)
    if padding == "same":
        pairs = [same_pads(spatial[i], kernel[i], strides[i], dilations[i]) for i in range(nd)]
        return tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)
    if isinstance(padding, int):
        return (padding,) * (2 * nd)
    if len(padding) == 2 * nd and nd > 1:
        return tuple(padding)
    sym = per_axis(padding, nd, "padding")
    return sym + sym


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape[1:]:
        n *= d
    return n


def dim_size(d: Dim, sizes: dict[str, int]) -> int:
    """The size of a dimension given sizes for symbolic names. Besides plain names, shape rules
    produce expressions of them (window_out: "(height-3)/2+1", concat: "time+time"); these are
    evaluated with floor division, as the windows are. A dim naming an unknown symbol counts as
    1; a window that would not fit counts as 0."""
    if isinstance(d, int):
        return d
    if d in sizes:
        return sizes[d]
    try:
        return max(_eval_dim(ast.parse(d, mode="eval").body, sizes), 0)
    except (SyntaxError, KeyError, ValueError, ZeroDivisionError):
        return 1


_BINOPS = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Div: int.__floordiv__}


def _eval_dim(node: ast.AST, sizes: dict[str, int]) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return sizes[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval_dim(node.left, sizes), _eval_dim(node.right, sizes))
    raise ValueError(f"not a dimension expression: {ast.dump(node)}")
