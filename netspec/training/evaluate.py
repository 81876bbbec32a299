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


def metrics_of(plan: Plan, cfg, z: np.ndarray, data, prefix: str = "", metrics=None,
               target_scaler=None, target_names=None) -> dict:  # fmt: skip
    """Metrics of loss inputs `z` (logits when the output activation is fused) against data.y,
    over real steps only for padded sequence outputs. With `target_scaler` the outputs are
    mapped back to the data's units first (data.y is always in them). With `target_names`
    (several target columns) each column is also scored on its own: `metric/name`."""
    mask = plan.loss_mask(data.lengths, z.shape[1] if z.ndim > 1 else 0, data.target_lengths)
    outputs = outputs_from_loss_input(z, cfg.loss, plan)
    if target_scaler is not None:
        outputs = target_scaler.unscale(outputs)
    y = data.y
    if mask is not None:  # (N, T, ...) -> (real steps, ...)
        y, outputs = np.asarray(y)[mask], outputs[mask]
    kind = task_kind(cfg.loss)
    names = metrics or cfg.resolved_metrics
    out = {prefix + name: float(METRICS[name](y, outputs, kind)) for name in names}
    if target_names and len(target_names) > 1 and outputs.shape[-1] == len(target_names):
        y = np.asarray(y).reshape(outputs.shape)
        for j, col in enumerate(target_names):
            for name in names:
                out[f"{prefix}{name}/{col}"] = float(METRICS[name](y[..., j : j + 1], outputs[..., j : j + 1], kind))
    return out


def scaled_targets(y, target_scaler):
    """What the loss compares the network's output with."""
    return y if target_scaler is None else target_scaler.scale(y)


def evaluate_arrays(plan: Plan, cfg, data, prefix: str = "", loss: bool = True, metrics=None,
                    target_scaler=None, target_names=None) -> dict:  # fmt: skip
    """{prefix+"loss": ..., prefix+metric: ...} for one split in inference mode. The loss is
    the trained one (on scaled targets when there is a target scaler), metrics in data units."""
    z = loss_inputs(plan, data.x, data.lengths)
    out = {}
    if loss:
        mask = plan.loss_mask(data.lengths, z.shape[1] if z.ndim > 1 else 0, data.target_lengths)
        out[prefix + "loss"] = float(LOSSES[cfg.loss](z, scaled_targets(data.y, target_scaler), mask=mask)[0])
    out.update(metrics_of(plan, cfg, z, data, prefix, metrics, target_scaler, target_names))
    return out
