"""lstm forward and backward (BPTT), the standard LSTM of PyTorch and ONNX (no peepholes):

    i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o),
    z = x_t @ kernel + h_{t-1} @ recurrent + b_ih + b_hh   (gate blocks i, f, g, o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t),   h_0 = c_0 = 0.

The spec language's wording ("cell without activation on its update") is read as this standard
cell, the one torch.nn.LSTM and ONNX LSTM compute, so that PyTorch parity and ONNX export hold.

How it is fast (DESIGN.md section 4):
- one GEMM projects the inputs of all steps; one fused 4-gate GEMM per step; the weight
  gradients are GEMMs over all steps after the time loop;
- internally the gate blocks are reordered to i, f, o, g so the three sigmoid gates form one
  contiguous block, and their columns of the weights and bias are pre-scaled by 1/2 (exact in
  floating point): sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so ONE tanh call covers all four gates
  (numpy's tanh is faster than its exp), followed by two cheap ops on the sigmoid block;
- the buffer of the input projection becomes the gate activations, then (in backward, in
  place) the gate gradients: backward consumes its cache, so it runs once per forward, as the
  executor does.
Variable lengths: see recurrent_layout.py.
"""

from __future__ import annotations

import numpy as np

from .recurrent_layout import (
    batch_major,
    last_state,
    make_layout,
    sorted_rows,
    time_major,
    unsorted_rows,
    zero_padded_rows,
)


def _internal(w: np.ndarray, h: int, half: bool) -> np.ndarray:
    """Gate blocks i, f, g, o (last axis) -> i, f, o, g; sigmoid blocks times 0.5 if `half`."""
    out = np.empty_like(w)
    out[..., : 2 * h] = w[..., : 2 * h]
    out[..., 2 * h : 3 * h] = w[..., 3 * h :]
    out[..., 3 * h :] = w[..., 2 * h : 3 * h]
    if half:
        out[..., : 3 * h] *= 0.5
    return out


def _to_param_order(src: np.ndarray, dst: np.ndarray, h: int) -> None:
    """dst <- src with gate blocks i, f, o, g back in the parameters' order i, f, g, o."""
    dst[..., : 2 * h] = src[..., : 2 * h]
    dst[..., 2 * h : 3 * h] = src[..., 3 * h :]
    dst[..., 3 * h :] = src[..., 2 * h : 3 * h]


def lstm_forward(attrs, xs, params, ctx):
    x = xs[0]
    recurrent = params["recurrent"]
    batch, steps, n_in = x.shape
    h = recurrent.shape[0]
    h3 = 3 * h
    lay = make_layout(ctx.lengths, batch, steps)
    te = lay.t_eff
    kernel_s = _internal(params["kernel"], h, half=True)
    recur_s = _internal(recurrent, h, half=True)
    bias_s = _internal(params["bias_ih"] + params["bias_hh"], h, half=True)

    xt = time_major(x, lay)
    # gates: the input projection, then (step by step) the activations i, f, o, g
    gates = np.empty((te, batch, 4 * h), dtype=x.dtype)
    np.matmul(xt.reshape(te * batch, n_in), kernel_s, out=gates.reshape(te * batch, 4 * h))
    gates += bias_s
    hs = np.empty((te + 1, batch, h), dtype=x.dtype)  # hs[t + 1] = h_t
    cs = np.empty((te + 1, batch, h), dtype=x.dtype)  # cs[t + 1] = c_t
    tc = np.empty((te, batch, h), dtype=x.dtype)  # tanh(c_t)
    hs[0] = 0 if len(xs) < 2 else sorted_rows(xs[1][:, :h], lay)  # optional initial [h_0, c_0]
    cs[0] = 0 if len(xs) < 2 else sorted_rows(xs[1][:, h:], lay)
    has_h0 = len(xs) > 1
    tmp = np.empty((batch, 4 * h), dtype=x.dtype)
    ig = np.empty((batch, h), dtype=x.dtype)
    for t, n in enumerate(lay.counts):
        u = gates[t, :n]
        if t or has_h0:  # h_0 = 0 adds nothing
            u += np.matmul(hs[t, :n], recur_s, out=tmp[:n])
        np.tanh(u, out=u)
        s = u[:, :h3]
        s *= 0.5
        s += 0.5
        c = cs[t + 1, :n]
        np.multiply(u[:, h : 2 * h], cs[t, :n], out=c)  # f * c_{t-1}
        igt = np.multiply(u[:, :h], u[:, h3:], out=ig[:n])  # i * g
        c += igt
        tct = np.tanh(c, out=tc[t, :n])
        np.multiply(u[:, 2 * h : h3], tct, out=hs[t + 1, :n])  # o * tanh(c)
        if n < batch:
            hs[t + 1, n:] = 0  # finished samples: output 0; their rows are never read again
    y = batch_major(hs[1:], lay) if attrs["return_sequences"] else last_state(hs, lay)
    if attrs.get("state_output"):  # an encoder whose final [h, c] starts a decoder
        y = np.concatenate([y, last_state(cs, lay)], axis=1)
    return y, (xt, hs, cs, tc, gates, lay, has_h0)


def lstm_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    xt, hs, cs, tc, gates, lay, has_h0 = cache
    h = params["recurrent"].shape[0]
    h2, h3, h4 = 2 * h, 3 * h, 4 * h
    te, batch = lay.t_eff, lay.batch
    recur_t = _internal(params["recurrent"], h, half=False).T
    seq = attrs["return_sequences"]
    if seq:
        dyt = time_major(dy, lay, zero_padded=False)
        dh = np.zeros((batch, h), dtype=dy.dtype)
    else:
        dh = sorted_rows(dy[:, :h], lay)  # finished rows carry it down to their last real step
    # dL/dc_t, ping-ponged between two buffers; rows of finished samples stay 0 (or, for a
    # state output, hold dL/dc_T in both buffers until their last real step)
    dcs = [np.zeros((batch, h), dtype=dy.dtype), np.zeros((batch, h), dtype=dy.dtype)]
    if attrs.get("state_output"):
        dcs[0][:] = dcs[1][:] = sorted_rows(dy[:, h:], lay)
    w = np.empty((batch, h), dtype=dy.dtype)
    w3 = np.empty((batch, h3), dtype=dy.dtype)
    for t in range(te - 1, -1, -1):
        n = lay.counts[t]
        a = gates[t, :n]  # activations i, f, o, g, overwritten in place by dL/dz
        i, f, o, g = a[:, :h], a[:, h:h2], a[:, h2:h3], a[:, h3:]
        d = dh[:n]
        if seq:
            d += dyt[t, :n]
        tct = tc[t, :n]
        dc, dc_prev = dcs[0][:n], dcs[1][:n]
        s3 = np.subtract(1, a[:, :h3], out=w3[:n])  # sigmoid' = s (1 - s), for i, f, o
        s3 *= a[:, :h3]
        wn = np.multiply(tct, tct, out=w[:n])  # dc += dh * o * (1 - tanh(c)^2)
        np.subtract(1, wn, out=wn)
        wn *= o
        wn *= d
        dc += wn
        np.multiply(d, tct, out=o)  # dL/do
        wn = np.multiply(g, g, out=w[:n])  # dL/dz_g = dc * i * (1 - g^2)
        np.subtract(1, wn, out=wn)
        wn *= i
        np.multiply(dc, g, out=i)  # dL/di
        np.multiply(wn, dc, out=g)
        np.multiply(dc, f, out=dc_prev)  # dL/dc_{t-1}
        np.multiply(dc, cs[t, :n], out=f)  # dL/df
        a[:, :h3] *= s3
        dcs.reverse()
        if t or has_h0:
            np.matmul(a, recur_t, out=d)
    dzs = gates  # now dL/dz, gate order i, f, o, g
    zero_padded_rows(dzs, lay)
    dz2 = dzs.reshape(te * batch, h4)
    if "kernel" in grads:
        _to_param_order(np.matmul(xt.reshape(te * batch, xt.shape[2]).T, dz2), grads["kernel"], h)
    if "recurrent" in grads:
        first = 0 if has_h0 else 1  # h_0 = 0 adds nothing
        prev = hs[first:te].reshape(max(te - first, 0) * batch, h)
        _to_param_order(np.matmul(prev.T, dz2[first * batch :]), grads["recurrent"], h)
    if "bias_ih" in grads or "bias_hh" in grads:
        db = dz2.sum(axis=0)
        for role in ("bias_ih", "bias_hh"):
            if role in grads:
                _to_param_order(db, grads[role], h)
    dstate = []
    if len(need_dx) > 1:  # dL/d[h_0, c_0]
        dstate = [unsorted_rows(np.concatenate([dh, dcs[0]], axis=1), lay) if need_dx[1] else None]
    if not need_dx[0]:
        return [None, *dstate]
    kernel = _internal(params["kernel"], h, half=False)
    dxt = np.matmul(dz2, kernel.T).reshape(te, batch, kernel.shape[0])
    return [batch_major(dxt, lay), *dstate]
