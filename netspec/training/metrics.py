"""Evaluation metrics on the model OUTPUT (probabilities for classification, values otherwise).

Every metric is `metric(y_true, y_pred_output, task_kind, mask=None) -> float` where task_kind is
"multiclass" (softmax rows; y_true int class indices), "binary" (sigmoid values, positive class 1,
threshold 0.5; y_true 0/1 shaped like the output) or "regression" (y_true shaped like the output).
`mask` (optional, aligned on the leading axes: 1 real, 0 padded) drops padded sequence steps.

precision, recall and f1 are macro-averaged over the classes present in y_true or the
predictions (as scikit-learn's average="macro"), a class with no predicted (or no true)
examples scoring 0 for precision (recall); binary tasks score the positive class only.
r2 is averaged over output columns (scikit-learn's "uniform_average").
"""

from __future__ import annotations

import numpy as np

KINDS = ("multiclass", "binary", "regression")


def task_kind(loss: str) -> str:
    return {"cross_entropy": "multiclass", "binary_cross_entropy": "binary"}.get(loss, "regression")


def predicted_labels(y_pred_output: np.ndarray, kind: str) -> np.ndarray:
    if kind == "multiclass":
        return np.argmax(y_pred_output, axis=-1)
    if kind == "binary":
        return (y_pred_output > 0.5).astype(np.int64)
    raise ValueError(f"no class labels for task kind {kind!r}")


def _keep(mask, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask).astype(bool)
    m = m.reshape(m.shape + (1,) * (len(shape) - m.ndim))
    return np.broadcast_to(m, shape)


def _labels(y_true, y_pred_output, kind: str, mask) -> tuple[np.ndarray, np.ndarray]:
    """Flat (true, predicted) integer labels of the real elements."""
    pred = predicted_labels(np.asarray(y_pred_output), kind)
    true = np.asarray(y_true)
    if kind == "binary":
        true = np.rint(true)
    true = true.astype(np.int64).reshape(pred.shape)
    keep = _keep(mask, pred.shape)
    if keep is not None:
        return true[keep], pred[keep]
    return true.reshape(-1), pred.reshape(-1)


def confusion_matrix(y_true, y_pred_labels, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: rows are true classes, columns predicted ones."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred_labels, dtype=np.int64).reshape(-1)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)


def _per_class(y_true, y_pred_output, kind, mask):
    """(tp, fp, fn) per scored class: class 1 for binary, present classes for multiclass."""
    true, pred = _labels(y_true, y_pred_output, kind, mask)
    if kind == "binary":
        tp, fp, fn = (
            ((true == 1) & (pred == 1)),
            ((true == 0) & (pred == 1)),
            ((true == 1) & (pred == 0)),
        )
        return np.array([tp.sum()]), np.array([fp.sum()]), np.array([fn.sum()])
    n = int(max(np.shape(y_pred_output)[-1], true.max(initial=-1) + 1))
    cm = confusion_matrix(true, pred, n)
    tp = np.diag(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return tp[present], cm.sum(axis=0)[present] - tp[present], cm.sum(axis=1)[present] - tp[present]


def accuracy(y_true, y_pred_output, task_kind: str, mask=None) -> float:
    true, pred = _labels(y_true, y_pred_output, task_kind, mask)
    return float(np.mean(true == pred)) if true.size else 0.0


def precision(y_true, y_pred_output, task_kind: str, mask=None) -> float:
    tp, fp, _ = _per_class(y_true, y_pred_output, task_kind, mask)
    return float(_ratio(tp, tp + fp).mean()) if tp.size else 0.0


def recall(y_true, y_pred_output, task_kind: str, mask=None) -> float:
    tp, _, fn = _per_class(y_true, y_pred_output, task_kind, mask)
    return float(_ratio(tp, tp + fn).mean()) if tp.size else 0.0


def f1(y_true, y_pred_output, task_kind: str, mask=None) -> float:
    """Per-class F1 = 2tp / (2tp + fp + fn), then averaged (not the F1 of macro P and R)."""
    tp, fp, fn = _per_class(y_true, y_pred_output, task_kind, mask)
    return float(_ratio(2 * tp, 2 * tp + fp + fn).mean()) if tp.size else 0.0


def _residuals(y_true, y_pred_output, mask) -> tuple[np.ndarray, np.ndarray]:
    """Flat-by-column (true, pred) in float64 for the real elements: shape (n, columns)."""
    pred = np.asarray(y_pred_output, dtype=np.float64)
    true = np.asarray(y_true, dtype=np.float64)
    if true.shape != pred.shape:
        if true.size != pred.size:
            raise ValueError(
                f"targets of shape {true.shape} do not match the output shape {pred.shape}"
            )
        true = true.reshape(pred.shape)
    cols = pred.shape[-1] if pred.ndim > 1 else 1
    keep = _keep(mask, pred.shape)
    if keep is not None:
        return true[keep].reshape(-1, cols), pred[keep].reshape(-1, cols)
    return true.reshape(-1, cols), pred.reshape(-1, cols)


def mse(y_true, y_pred_output, task_kind: str = "regression", mask=None) -> float:
    t, p = _residuals(y_true, y_pred_output, mask)
    return float(np.mean(np.square(p - t))) if t.size else 0.0


def mae(y_true, y_pred_output, task_kind: str = "regression", mask=None) -> float:
    t, p = _residuals(y_true, y_pred_output, mask)
    return float(np.mean(np.abs(p - t))) if t.size else 0.0


def rmse(y_true, y_pred_output, task_kind: str = "regression", mask=None) -> float:
    return float(np.sqrt(mse(y_true, y_pred_output, task_kind, mask)))


def r2(y_true, y_pred_output, task_kind: str = "regression", mask=None) -> float:
    """1 - SS_res / SS_tot per column, averaged; a constant column scores 1 if predicted
    exactly, else 0 (scikit-learn's force_finite)."""
    t, p = _residuals(y_true, y_pred_output, mask)
    if not t.size:
        return 0.0
    ss_res = np.sum(np.square(t - p), axis=0)
    ss_tot = np.sum(np.square(t - t.mean(axis=0)), axis=0)
    scores = np.where(ss_tot > 0, 1 - _ratio(ss_res, ss_tot), np.where(ss_res > 0, 0.0, 1.0))
    return float(scores.mean())


METRICS = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "r2": r2,
}
HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "r2"}


def higher_is_better(monitor: str) -> bool:
    """For early stopping mode "auto": "val_loss" and error metrics decrease, scores increase.
    Accepts a bare name or one prefixed with train_/val_/test_."""
    name = monitor
    for prefix in ("train_", "val_", "test_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name == "loss" or name in METRICS:
        return name in HIGHER_IS_BETTER
    raise ValueError(f"unknown metric {monitor!r}; known: loss, {', '.join(METRICS)}")
