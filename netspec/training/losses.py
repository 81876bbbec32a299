"""Losses: (mean loss over real elements as a Python float, dL/d(input) array).

cross_entropy and binary_cross_entropy take LOGITS: the softmax / sigmoid output node is fused
into the loss (see FUSED_OUTPUT), so the executor feeds the pre-activation input of that final
node and skips the activation's backward. mse and mae take the model output itself.

`mask` (optional) weights elements: 1 for real, 0 for padded sequence steps. It is aligned to the
LEADING axes of the output (shape (batch,), (batch, time), or the full output shape) and the mean
is taken over real elements only. For cross_entropy an element is one row of class logits; for
the others it is one output value.

The gradient has the input's dtype (float32 stays float32); the loss value is accumulated in
float64.
"""

from __future__ import annotations

import math

import numpy as np

# loss -> the output op fused into it (the executor feeds that node's input as logits)
from ..ir.graph import FUSED_OUTPUT  # noqa: E402,F401 - documented here, defined with the IR
from ..kernels.rowwise import row_max, row_sum


def _weights(mask, shape: tuple[int, ...], dtype) -> tuple[np.ndarray | None, int | float]:
    """Mask broadcast to `shape` (aligned on leading axes) and the number of real elements."""
    if mask is None:
        return None, math.prod(shape)
    m = np.asarray(mask, dtype=dtype)
    if m.shape == tuple(shape[: m.ndim]):
        m = m.reshape(m.shape + (1,) * (len(shape) - m.ndim))
    try:
        w = np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {m.shape} does not align with the output shape {shape}"
        ) from None
    return w, float(w.sum(dtype=np.float64))


def _like(targets: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Targets shaped like the output; (batch,) targets for a (batch, 1) output are accepted.
    Never broadcast: (batch,) against (batch, 1) would silently make a (batch, batch) loss."""
    t = np.asarray(targets)
    if t.shape == shape:
        return t
    if t.size == math.prod(shape) and t.shape == shape[: t.ndim]:
        return t.reshape(shape)
    raise ValueError(f"{what} targets of shape {t.shape} do not match the output shape {shape}")


def _reduce(elem: np.ndarray, grad: np.ndarray, w, n) -> tuple[float, np.ndarray]:
    """Mean of `elem` over real elements; scales `grad` (same shape) in place by w / n."""
    if n == 0:
        grad.fill(0)
        return 0.0, grad
    if w is None:
        loss = float(elem.sum(dtype=np.float64)) / n
        grad *= 1 / n
    else:
        loss = float(np.sum(elem * w, dtype=np.float64)) / n
        grad *= w
        grad *= 1 / n
    return loss, grad


def cross_entropy(logits: np.ndarray, targets: np.ndarray, mask=None) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy over the last axis via log-sum-exp; targets are int class indices
    shaped like logits.shape[:-1]."""
    c = logits.shape[-1]
    lead = logits.shape[:-1]
    t = np.asarray(targets).reshape(-1)
    if t.size != math.prod(lead):
        raise ValueError(
            f"cross_entropy targets of shape {np.shape(targets)} do not match logits {logits.shape}"
        )
    w, n = _weights(mask, lead, logits.dtype)
    wr = None if w is None else w.reshape(-1, 1)
    if wr is not None:
        t = np.where(wr[:, 0] > 0, t, 0)  # padded steps may carry any label
    x = logits.reshape(-1, c)
    rows = np.arange(x.shape[0])
    m = row_max(x)
    p = x - m
    np.exp(p, out=p)
    s = row_sum(p)
    elem = (np.log(s) + m)[:, 0] - x[rows, t]  # lse - logit of the target
    p /= s
    p[rows, t] -= 1  # softmax - one_hot
    loss, grad = _reduce(elem.reshape(-1, 1), p, wr, n)
    return loss, grad.reshape(logits.shape)


def binary_cross_entropy(
    logits: np.ndarray, targets: np.ndarray, mask=None
) -> tuple[float, np.ndarray]:
    """Sigmoid BCE from logits: max(x, 0) - x*z + log1p(exp(-|x|)); gradient sigmoid(x) - z."""
    x = logits
    z = _like(targets, x.shape, "binary_cross_entropy").astype(x.dtype, copy=False)
    e = np.exp(-np.abs(x))  # in (0, 1]: no overflow
    elem = np.maximum(x, 0)
    elem -= x * z
    elem += np.log1p(e)
    # sigmoid(x) from e: 1/(1+e) for x >= 0, e/(1+e) otherwise
    r = 1 / (1 + e)
    grad = np.where(x >= 0, r, e * r)
    grad -= z
    w, n = _weights(mask, x.shape, x.dtype)
    return _reduce(elem, grad, w, n)


def mse(output: np.ndarray, targets: np.ndarray, mask=None) -> tuple[float, np.ndarray]:
    diff = output - _like(targets, output.shape, "mse").astype(output.dtype, copy=False)
    w, n = _weights(mask, output.shape, output.dtype)
    loss, grad = _reduce(np.square(diff), diff, w, n)
    grad *= 2
    return loss, grad


def mae(output: np.ndarray, targets: np.ndarray, mask=None) -> tuple[float, np.ndarray]:
    """Gradient sign(y - t), 0 where equal (as PyTorch's l1_loss)."""
    diff = output - _like(targets, output.shape, "mae").astype(output.dtype, copy=False)
    w, n = _weights(mask, output.shape, output.dtype)
    return _reduce(np.abs(diff), np.sign(diff), w, n)


LOSSES = {
    "cross_entropy": cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "mse": mse,
    "mae": mae,
}
