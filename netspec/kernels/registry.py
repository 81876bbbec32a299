"""The op table: everything about an op is found by its name here.

Each op family module (dense.py, activations.py, conv.py, ...) registers an `OpDef` holding its
shape rule, parameter shapes, FLOP count, and (once the executor supports it) forward and backward
kernels side by side. The ONNX emitters live in netspec/export/emitters and are keyed by the same
names.

Kernel calling convention (used by netspec.executor):

    y, cache = forward(attrs, xs, params, ctx)
        xs: list of input arrays; params: role -> array (state such as running stats is
        updated in place when ctx.training); ctx: RunContext.
    dxs = backward(attrs, dy, cache, params, grads, need_dx, ctx)
        grads: role -> preallocated array the kernel OVERWRITES with dL/dparam (only roles of
        trainable params are present); need_dx: list of bools, one per input; returns a list of
        input gradients (None where not needed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.graph import Shape


class ShapeError(Exception):
    """A shape rule failed. `key` names the layer key at fault (for the error location)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass
class RunContext:
    """What a kernel may need besides its inputs: mode, randomness, dtype, sequence lengths."""

    training: bool = False
    rng: np.random.Generator | None = None  # dropout masks and noise; None at inference
    dtype: type = np.float32
    lengths: np.ndarray | None = None  # (batch,) real lengths of padded sequences, if any
    # The plan gives each step its own scratch dict, so kernels reuse buffers across batches
    # of one shape (see workspace.py); None (direct kernel calls, tests): fresh arrays.
    ws: dict | None = None
    # The plan fused the relu next to this kernel into it, so the kernel returns relu(output):
    # at inference a conv applies the relu after it while copying out its wide rows; in
    # training a max_pool applies the relu in front of it to its (smaller) output.
    relu_output: bool = False


@dataclass(frozen=True)
class ParamSpec:
    shape: tuple[int, ...]
    init: str  # initializer name, or "zeros" / "ones" / "forget_bias"
    fan_in: int = 1
    fan_out: int = 1
    kind: str = "weight"  # "weight", "bias" or "state"
    fill: float = 1.0  # the constant of "forget_bias"


def _no_params(attrs: dict, in_shapes: list[Shape]) -> dict[str, ParamSpec]:
    return {}


def _elementwise_flops(attrs: dict, in_shapes: list[Shape], out: tuple[int, ...]) -> int:
    n = 1
    for d in out[1:]:
        n *= d
    return n


@dataclass
class OpDef:
    name: str
    infer: Callable[[dict, list[Shape]], Shape]
    params: Callable[[dict, list[Shape]], dict[str, ParamSpec]] = _no_params
    # FLOPs per sample for concrete shapes (symbolic dims substituted); 2 x MAC for products.
    flops: Callable[[dict, list[tuple[int, ...]], tuple[int, ...]], int] = _elementwise_flops
    forward: Callable[..., Any] | None = None
    backward: Callable[..., Any] | None = None
    # Fill in attributes that depend on input shapes (e.g. explicit pads for "same").
    resolve: Callable[[dict, list[Shape]], dict] | None = None
    # Identity at inference (dropout, noise): the exporter and inference plans skip these.
    inference_identity: bool = False


OPS: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    OPS[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    _load_all()
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def all_ops() -> dict[str, OpDef]:
    _load_all()
    return OPS


def _load_all() -> None:
    # Importing the family modules registers their ops.
    from . import activations, conv, dense, merge, misc, normalization, pool, recurrent, repeat, slice  # noqa: F401
