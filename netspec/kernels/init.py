"""Parameter initializers, by the names used in specs and ParamSpec.init.

Values are drawn in float64 and then cast, so one seed gives the same initial weights (up to
rounding) whatever the training dtype. Normal initializers are plain (untruncated) normals, as
PyTorch's xavier_normal_/kaiming_normal_.
"""

from __future__ import annotations

from math import sqrt

import numpy as np

from ..ir.graph import Param

# name -> (fan_in, fan_out) -> limit of U[-limit, limit]
UNIFORM = {
    "uniform_fan_in": lambda fi, fo: 1 / sqrt(fi),
    "glorot_uniform": lambda fi, fo: sqrt(6 / (fi + fo)),
    "he_uniform": lambda fi, fo: sqrt(6 / fi),
}
# name -> (fan_in, fan_out) -> standard deviation of N(0, std^2)
NORMAL = {
    "glorot_normal": lambda fi, fo: sqrt(2 / (fi + fo)),
    "he_normal": lambda fi, fo: sqrt(2 / fi),
    "normal": lambda fi, fo: 0.01,
}
CONSTANT = ("zeros", "ones", "forget_bias")
NAMES = (*UNIFORM, *NORMAL, *CONSTANT)


def _forget_bias(shape: tuple[int, ...], name: str, fill: float = 1.0) -> np.ndarray:
    """LSTM input bias (4H,), gates input, forget, cell, output: `fill` (default 1) on the
    forget block so the cell keeps its state by default (as Keras unit_forget_bias)."""
    if len(shape) != 1 or shape[0] % 4:
        raise ValueError(f"forget_bias needs a (4H,) shape, got {shape} for {name}")
    h = shape[0] // 4
    out = np.zeros(shape)
    out[h : 2 * h] = fill
    return out


def init_param(param: Param, rng: np.random.Generator, dtype) -> np.ndarray:
    """A fresh C-contiguous array for `param`. Constant initializers draw nothing from rng."""
    name, shape = param.init, tuple(param.shape)
    if name in UNIFORM:
        limit = UNIFORM[name](param.fan_in, param.fan_out)
        values = rng.uniform(-limit, limit, shape)
    elif name in NORMAL:
        values = rng.normal(0.0, NORMAL[name](param.fan_in, param.fan_out), shape)
    elif name == "zeros":
        values = np.zeros(shape)
    elif name == "ones":
        values = np.ones(shape)
    elif name == "forget_bias":
        values = _forget_bias(shape, param.name, param.fill)
    else:
        raise ValueError(
            f"unknown initializer {name!r} for {param.name}; known: {', '.join(NAMES)}"
        )
    return np.ascontiguousarray(values, dtype=dtype)
