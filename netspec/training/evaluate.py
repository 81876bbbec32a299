"""Inference-mode loss and metrics over a whole split (in chunks, so memory stays bounded)."""

from __future__ import annotations

import numpy as np

from ..executor import Plan
from ..kernels.activations import sigmoid, softmax
from .losses import LOSSES
from .metrics import METRICS, task_kind

CHUNK = 4096


def outputs_from_loss_input(z: np.ndarray, loss: str, plan: Plan) -> np.ndarray:
    """The model's output from what the loss consumes (applies the fused final activation)."""
    if plan.loss_input == plan.graph.output:
        return z
    return softmax(z) if loss == "cross_entropy" else sigmoid(z)


def loss_inputs(plan: Plan, x: np.ndarray, lengths=None) -> np.ndarray:
    parts = []
    for i in range(0, len(x), CHUNK):
        lb = lengths[i : i + CHUNK] if lengths is not None else None
        parts.append(plan.logits(x[i : i + CHUNK], lb))
    return np.concatenate(parts) if parts else np.zeros((0,))


def metrics_of(plan: Plan, cfg, z: np.ndarray, data, prefix: str = "", metrics=None) -> dict:
    """Metrics of loss inputs `z` (logits when the output activation is fused) against data.y,
    over real steps only for padded sequence outputs."""
    mask = plan.loss_mask(data.lengths, z.shape[1] if z.ndim > 1 else 0, data.target_lengths)
    outputs = outputs_from_loss_input(z, cfg.loss, plan)
    y = data.y
    if mask is not None:  # (N, T, ...) -> (real steps, ...)
        y, outputs = np.asarray(y)[mask], outputs[mask]
    return {prefix + name: float(METRICS[name](y, outputs, task_kind(cfg.loss))) for name in metrics or cfg.resolved_metrics}


def evaluate_arrays(plan: Plan, cfg, data, prefix: str = "", loss: bool = True, metrics=None) -> dict:
    """{prefix+"loss": ..., prefix+metric: ...} for one split in inference mode."""
    z = loss_inputs(plan, data.x, data.lengths)
    out = {}
    if loss:
        mask = plan.loss_mask(data.lengths, z.shape[1] if z.ndim > 1 else 0, data.target_lengths)
        out[prefix + "loss"] = float(LOSSES[cfg.loss](z, data.y, mask=mask)[0])
    out.update(metrics_of(plan, cfg, z, data, prefix, metrics))
    return out
