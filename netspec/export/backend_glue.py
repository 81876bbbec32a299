"""The structural ops the exporter emits around the kernels (standardization's Sub and Div, target scaling's Mul, the
global pools' ReduceMean/ReduceMax, the recurrent layout's Transpose and Squeeze, the output's
Identity), as handlers of the conformance backend (backend.py), so ONNX's node tests cover every
op type an exported model contains. They move or combine data without arithmetic of their own
beyond NumPy's elementwise and reduction primitives."""

from __future__ import annotations

import numpy as np

from .backend import handles, unsupported


def _float(x: np.ndarray, op: str) -> np.ndarray:
    if x.dtype.kind != "f":
        unsupported(f"{op} on {x.dtype} (netspec exports float tensors only)")
    return x


@handles("Sub")
def _sub(a, xs, n):
    return [np.subtract(_float(xs[0], "Sub"), xs[1]).astype(xs[0].dtype, copy=False)]


@handles("Mul")  # target scaling's out * std (then Add, a kernel of its own)
def _mul(a, xs, n):
    return [np.multiply(_float(xs[0], "Mul"), xs[1]).astype(xs[0].dtype, copy=False)]


@handles("Div")
def _div(a, xs, n):
    return [np.divide(_float(xs[0], "Div"), xs[1]).astype(xs[0].dtype, copy=False)]


def _axes(a: dict, xs: list, input_from: int) -> tuple[int, ...] | None:
    """Axes from the attribute (older opsets) or the optional second input (newer ones)."""
    if a["_opset"] >= input_from:
        axes = xs[1] if len(xs) > 1 and xs[1] is not None and xs[1].size else None
    else:
        axes = a.get("axes")
    return None if axes is None else tuple(int(v) for v in np.asarray(axes).reshape(-1))


def _reduce(fn, a, xs, input_from: int):
    x = _float(xs[0], a["_op"])
    axes = _axes(a, xs, input_from)
    if axes is None and a.get("noop_with_empty_axes", 0):
        return [x]
    return [fn(x, axis=axes, keepdims=bool(a.get("keepdims", 1))).astype(x.dtype, copy=False)]


@handles("ReduceMean")
def _reduce_mean(a, xs, n):
    return _reduce(np.mean, a, xs, 18)


@handles("ReduceMax")
def _reduce_max(a, xs, n):
    return _reduce(np.max, a, xs, 18)


@handles("Transpose")
def _transpose(a, xs, n):
    perm = a.get("perm")
    return [np.transpose(xs[0], None if perm is None else tuple(perm))]


@handles("Squeeze")
def _squeeze(a, xs, n):
    axes = _axes(a, xs, 13)
    x = xs[0]
    if axes is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    return [np.squeeze(x, axis=tuple(ax % x.ndim for ax in axes))]


@handles("Identity")
def _identity(a, xs, n):
    return [xs[0]]
