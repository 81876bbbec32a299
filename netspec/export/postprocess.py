"""What the exported graph does after the network: regression outputs mapped back to the data's
units (out * std + mean, one pair per output column) when the targets were trained scaled."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .errors import ExportError


def unscale_output(ctx, source: str, output: str, target_scaler) -> list:
    """Mul(std) then Add(mean) from `source` to `output` (the last axis is the target column)."""
    std = np.asarray(target_scaler.std, dtype=np.float32).reshape(-1)
    mean = np.asarray(target_scaler.mean, dtype=np.float32).reshape(-1)
    if not (np.isfinite(std).all() and np.isfinite(mean).all()):
        raise ExportError("the target scaling mean/std contain NaN or infinite values")
    s = ctx.initializer("target_scale.std", std)
    m = ctx.initializer("target_scale.mean", mean)
    scaled = ctx.unique(f"{source}/unscaled")
    mul = helper.make_node("Mul", [source, s.name], [scaled], name=ctx.unique("target_scale/Mul"))
    add = helper.make_node("Add", [scaled, m.name], [output], name=ctx.unique("target_scale/Add"))
    return [s, m, mul, add]
