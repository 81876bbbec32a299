"""gru forward and backward (BPTT): the GRU of torch.nn.GRU and ONNX GRU with
linear_before_reset = 1 (gate blocks r, z, n in the parameters, as PyTorch):

    r = sigmoid(x W_r + b_ir + h W'_r + b_hr),   z = sigmoid(x W_z + b_iz + h W'_z + b_hz)
    n = tanh(x W_n + b_in + r * (h W'_n + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

One GEMM projects the inputs of all steps; one 3-gate GEMM per step on the state; the weight
gradients are GEMMs over all steps after the time loop. Variable lengths use the sorted
time-major layout of recurrent_layout.py (padded steps are never computed; outputs there are 0).
An optional second input is the initial state h_0 (batch, H); backward then also returns dL/dh_0.
"""

from __future__ import annotations

import numpy as np

from . import compiled
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


def gru_forward(attrs, xs, params, ctx):
    x = xs[0]
    kernel, recurrent = params["kernel"], params["recurrent"]
    batch, steps, n_in = x.shape
    h = recurrent.shape[0]
    lay = make_layout(ctx.lengths, batch, steps)
    te = lay.t_eff
    xt = time_major(x, lay)
    xp = np.matmul(xt.reshape(te * batch, n_in), kernel).reshape(te, batch, 3 * h)
    xp += params["bias_ih"]
    hs = np.empty((te + 1, batch, h), dtype=x.dtype)  # hs[t + 1] = h_t
    hs[0] = 0 if len(xs) < 2 else sorted_rows(xs[1], lay)
    hn = np.empty((te, batch, h), dtype=x.dtype)  # h_{t-1} W'_n + b_hn, read by backward
    for t, n in enumerate(lay.counts):
        prev = hs[t, :n]
        hp = np.matmul(prev, recurrent)
        hp += params["bias_hh"]
        g = xp[t, :n]  # becomes the activations r, z, n
        g[:, : 2 * h] += hp[:, : 2 * h]
        compiled.sigmoid_cols(g, 0, 2 * h)  # r, z = 0.5 tanh(a / 2) + 0.5 (no overflow)
        hn[t, :n] = hp[:, 2 * h :]
        nn = g[:, 2 * h :]
        nn += g[:, :h] * hp[:, 2 * h :]
        compiled.tanh_cols(g, 2 * h, 3 * h)  # n = tanh(nn)
        out = hs[t + 1, :n]
        np.subtract(prev, nn, out=out)  # h = n + z * (h_prev - n)
        out *= g[:, h : 2 * h]
        out += nn
        if n < batch:
            hs[t + 1, n:] = hs[t, n:]  # finished samples keep their last state (read by last_state)
    y = batch_major(_zero_padded(hs[1:], lay), lay) if attrs["return_sequences"] else last_state(hs, lay)
    return y, (xt, hs, hn, xp, lay)


def _zero_padded(buf: np.ndarray, lay) -> np.ndarray:
    if not lay.padded:
        return buf
    out = buf.copy()
    zero_padded_rows(out, lay)
    return out


def gru_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    xt, hs, hn, acts, lay = cache
    kernel, recurrent = params["kernel"], params["recurrent"]
    te, batch, h = lay.t_eff, lay.batch, recurrent.shape[0]
    if attrs["return_sequences"]:
        dyt = time_major(dy, lay, zero_padded=False)
        dh = np.zeros((batch, h), dtype=dy.dtype)
    else:
        dyt = None
        dh = sorted_rows(dy, lay)  # finished rows carry it down to their last real step
    dxp = np.zeros((te, batch, 3 * h), dtype=dy.dtype)  # dL/d(input projection)
    dhp = np.zeros((te, batch, 3 * h), dtype=dy.dtype)  # dL/d(h_{t-1} W' + b_hh)
    recurrent_t = np.ascontiguousarray(recurrent.T)  # a contiguous right operand (rnn_kernels)
    for t in range(te - 1, -1, -1):
        n = lay.counts[t]
        d = dh[:n]
        if dyt is not None:
            d += dyt[t, :n]
        a = acts[t, :n]
        r, z, nn = a[:, :h], a[:, h : 2 * h], a[:, 2 * h :]
        prev = hs[t, :n]
        dn = d * (1 - z) * (1 - nn * nn)  # through tanh
        dxp[t, :n, 2 * h :] = dn
        dhp[t, :n, 2 * h :] = dn * r
        dxp[t, :n, :h] = dn * hn[t, :n] * r * (1 - r)
        dxp[t, :n, h : 2 * h] = d * (prev - nn) * z * (1 - z)
        dhp[t, :n, : 2 * h] = dxp[t, :n, : 2 * h]
        d *= z  # the direct path h_{t-1} -> h_t
        d += np.matmul(dhp[t, :n], recurrent_t)
    dx2 = dxp.reshape(te * batch, 3 * h)
    dh2 = dhp.reshape(te * batch, 3 * h)
    if "kernel" in grads:
        np.matmul(xt.reshape(te * batch, xt.shape[2]).T, dx2, out=grads["kernel"])
    if "recurrent" in grads:
        np.matmul(hs[:te].reshape(te * batch, h).T, dh2, out=grads["recurrent"])
    if "bias_ih" in grads:
        col_sum(dx2, grads["bias_ih"])
    if "bias_hh" in grads:
        col_sum(dh2, grads["bias_hh"])
    dx = None
    if need_dx[0]:
        dx = batch_major(np.matmul(dx2, kernel.T).reshape(te, batch, kernel.shape[0]), lay)
    if len(need_dx) < 2:
        return [dx]
    return [dx, unsorted_rows(dh, lay) if need_dx[1] else None]
