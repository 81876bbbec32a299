"""rnn forward and backward (BPTT): h_t = g(x_t @ kernel + h_{t-1} @ recurrent + b_ih + b_hh).

As torch.nn.RNN and ONNX RNN (h_0 = 0). One GEMM projects the inputs of all steps (written
straight into the state buffer), one GEMM per step adds the recurrent term, and the weight
gradients are two GEMMs after the time loop. Variable lengths: see recurrent_layout.py.

The activation g is computed in place; its derivative is taken from the output h_t (as the
activation kernels do), so the cache holds only the inputs and the states.
"""

from __future__ import annotations

import numpy as np

from . import compiled
from .activations import leaky_relu, leaky_slope, relu
from .recurrent_layout import (
    batch_major,
    last_state,
    make_layout,
    sorted_rows,
    time_major,
    unsorted_rows,
    zero_padded_rows,
)
from .rowwise import col_sum

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity", "leaky_relu")


def rnn_activation(attrs: dict) -> str:
    """The rnn's activation, or a ValueError that states the rule."""
    act = attrs.get("activation", "tanh")
    if act == "softmax":
        raise ValueError(
            "an rnn layer cannot use activation 'softmax': its state would be a probability "
            "vector fed back into itself; use tanh (the default), relu, leaky_relu, sigmoid or "
            "identity, and put a softmax on a dense layer after it"
        )
    if act not in ACTIVATIONS:
        raise ValueError(f"rnn activation must be one of {', '.join(ACTIVATIONS)}, got {act!r}")
    return act


def _activate(act: str, a: np.ndarray, alpha: float) -> None:
    """a <- g(a), in place."""
    if act == "tanh":
        compiled.tanh_cols(a, 0, a.shape[-1])
    elif act == "relu":
        relu(a, a)
    elif act == "sigmoid":
        np.negative(a, out=a)
        with np.errstate(over="ignore"):  # exp overflow -> inf -> sigmoid 0, the right limit
            np.exp(a, out=a)
        a += 1
        np.reciprocal(a, out=a)
    elif act == "leaky_relu":
        leaky_relu(a, alpha, a, scaled=np.empty_like(a))


def _backprop_activation(act: str, y: np.ndarray, dh: np.ndarray, out: np.ndarray, alpha: float):
    """out <- dh * g'(a), with g' expressed through the output y = g(a)."""
    if act == "tanh":
        np.multiply(y, y, out=out)
        np.subtract(1, out, out=out)
        out *= dh
    elif act == "sigmoid":
        np.subtract(1, y, out=out)
        out *= y
        out *= dh
    elif act == "relu":
        np.multiply(dh, y > 0, out=out)
    elif act == "leaky_relu":
        np.multiply(dh, leaky_slope(y > 0, alpha, out, np.empty_like(out)), out=out)
    else:  # identity
        np.copyto(out, dh)


def rnn_forward(attrs, xs, params, ctx):
    x = xs[0]
    act = rnn_activation(attrs)
    alpha = float(attrs.get("alpha", 0.01))
    kernel, recurrent = params["kernel"], params["recurrent"]
    batch, steps, n_in = x.shape
    h = recurrent.shape[0]
    lay = make_layout(ctx.lengths, batch, steps)
    te = lay.t_eff
    xt = time_major(x, lay)
    # states[0] = h_0 = 0; states[t + 1] = h_t. Rows of finished samples stay 0.
    states = np.empty((te + 1, batch, h), dtype=x.dtype)
    states[0] = 0 if len(xs) < 2 else sorted_rows(xs[1], lay)  # optional initial state h_0
    proj = states[1:].reshape(te * batch, h)
    np.matmul(xt.reshape(te * batch, n_in), kernel, out=proj)
    proj += params["bias_ih"]
    proj += params["bias_hh"]
    tmp = np.empty((batch, h), dtype=x.dtype)
    for t, n in enumerate(lay.counts):
        a = states[t + 1, :n]
        a += np.matmul(states[t, :n], recurrent, out=tmp[:n])
        _activate(act, a, alpha)
    zero_padded_rows(states[1:], lay)
    y = batch_major(states[1:], lay) if attrs["return_sequences"] else last_state(states, lay)
    return y, (xt, states, lay, act, alpha)


def rnn_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    xt, states, lay, act, alpha = cache
    kernel, recurrent = params["kernel"], params["recurrent"]
    te, batch, h = lay.t_eff, lay.batch, recurrent.shape[0]
    seq = attrs["return_sequences"]
    # dh: dL/dh_t for the rows still running; rows of finished samples carry the many-to-one
    # gradient down to their last real step untouched.
    if seq:
        dyt = time_major(dy, lay, zero_padded=False)
        dh = np.zeros((batch, h), dtype=dy.dtype)
    else:
        dh = sorted_rows(dy, lay)
    da = np.empty((te, batch, h), dtype=dy.dtype)  # dL/d(pre-activation)
    # contiguous: OpenBLAS runs a transposed right operand slower at these sizes (32 x 64 @
    # 64 x 64 float32, 1 thread: 5.9 us as a view, 3.3 copied, the same bits)
    recurrent_t = np.ascontiguousarray(recurrent.T)
    for t in range(te - 1, -1, -1):
        n = lay.counts[t]
        d = dh[:n]
        if seq:
            d += dyt[t, :n]
        _backprop_activation(act, states[t + 1, :n], d, da[t, :n], alpha)
        if t or len(need_dx) > 1:  # dL/dh_0 only for an initial-state input
            np.matmul(da[t, :n], recurrent_t, out=d)
    zero_padded_rows(da, lay)
    da2 = da.reshape(te * batch, h)
    if "kernel" in grads:
        np.matmul(xt.reshape(te * batch, xt.shape[2]).T, da2, out=grads["kernel"])
    if "recurrent" in grads:
        np.matmul(states[:te].reshape(te * batch, h).T, da2, out=grads["recurrent"])
    for role in ("bias_ih", "bias_hh"):
        if role in grads:
            col_sum(da2, grads[role])
    dh0 = [unsorted_rows(dh, lay) if need_dx[1] else None] if len(need_dx) > 1 else []
    if not need_dx[0]:
        return [None, *dh0]
    dxt = np.matmul(da2, kernel.T).reshape(te, batch, kernel.shape[0])
    return [batch_major(dxt, lay), *dh0]
