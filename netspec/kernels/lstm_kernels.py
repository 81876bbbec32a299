"""lstm forward and backward (BPTT), the standard LSTM of PyTorch and ONNX (no peepholes):

    i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o),
    z = x_t @ kernel + h_{t-1} @ recurrent + b_ih + b_hh   (gate blocks i, f, g, o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t),   h_0 = c_0 = 0 (or an initial state).

The spec language's wording ("cell without activation on its update") is read as this standard
cell, the one torch.nn.LSTM and ONNX LSTM compute, so that PyTorch parity and ONNX export hold.

Calling convention (kernels/registry.py): `lstm_forward(attrs, [x], params, ctx)`, x (batch,
time, in), returns y ((batch, time, H) with return_sequences, else (batch, H)) and a cache
(None when ctx.training is False: inference keeps nothing for backward).
`lstm_backward(attrs, dy, cache, params, grads, need_dx, ctx)` consumes that cache (its buffers
go back to the scratch pool of recurrent_buffers.py: call it at most once per forward),
overwrites grads[role] (parameter layout, gate order i, f, g, o) and returns [dx or None].
An optional second input [h_0, c_0] (batch, 2H) starts the state (backward then also returns
its gradient); attrs["state_output"] makes the output [h_T, c_T] (batch, 2H) for a decoder.

Internal layout. The kernels run FEATURE-major: every per-step array is (features, batch), so a
gate block of one step is one contiguous (H, batch) array and each elementwise call is a single
contiguous loop (numpy runs row-strided (batch, H) slices 2-3x slower). Time runs over the
sorted time-major layout of recurrent_layout.py (variable lengths: the samples running at step
t are the columns [:counts[t]]). Gate blocks are reordered to o, i, f, g (`_internal`,
`_to_param_order`). With te = t_eff and B = batch:
- G (te, 4, H, B): the input projection of all steps (one batched GEMM), then, step by step,
  the activations o, i, f and g (inference: one step, projected step by step);
- CY (te + 1, 2, H, B): CY[t] = [g_t, c_{t-1}], adjacent so that ONE product with G[t, 1:3]
  gives [i g, f c_{t-1}]; CY[t + 1, 1] = c_t;
- TC (te, H, B) = tanh(c_t); HS (te + 1, H, B), HS[t + 1] = h_t.

How it is fast (DESIGN.md section 4): at batch 32 and 64 units the count and kind of numpy calls
per step dominate. So
- the sigmoid gates' weight columns are pre-scaled by 1/2 (exact in floating point): ONE tanh
  over all four blocks gives g and tanh(z/2), and sigmoid(z) = 0.5 tanh(z/2) + 0.5 is two
  calls on the contiguous o, i, f blocks. (Measured on AVX-512 numpy, float32, one (256, 32)
  block: tanh 2.4 us, exp 3.2 us, so this beats the exp/add/reciprocal form, which needs two
  more calls to turn sigmoid(2 z_g) into g; `python bench/bench_recurrent.py` compares);
- backward first computes, vectorised over all steps, the factors that do not depend on the
  recurrence (sigmoid', 1 - tanh^2 and their products, `_backward_factors`); each step is
  then 3 elementwise calls and one GEMM writing Z (te, 6, H, B) = [dc via dh, dz_o, dz_i,
  dz_f, dz_g, dc_{t-1}]; the weight gradients are single GEMMs over all steps after the loop.
"""

from __future__ import annotations

import numpy as np

from .recurrent_buffers import give, take
from .recurrent_layout import (
    batch_major,
    last_state,
    make_layout,
    sorted_rows,
    time_major,
    unsorted_rows,
)

# forward pre-scaling of the internal blocks o, i, f (g is unscaled): tanh(u) = tanh(z / 2)
_SIGMOID_SCALE = 0.5


def _internal(w: np.ndarray, h: int, scaled: bool) -> np.ndarray:
    """Gate blocks i, f, g, o (last axis) -> o, i, f, g; times _SCALE if `scaled`."""
    out = np.empty_like(w)
    out[..., :h] = w[..., 3 * h :]
    out[..., h : 3 * h] = w[..., : 2 * h]
    out[..., 3 * h :] = w[..., 2 * h : 3 * h]
    if scaled:
        out[..., : 3 * h] *= _SIGMOID_SCALE
    return out


def _to_param_order(src: np.ndarray, dst: np.ndarray, h: int) -> None:
    """dst <- src with internal gate blocks o, i, f, g back in the parameters' order i, f, g, o."""
    dst[..., : 2 * h] = src[..., h : 3 * h]
    dst[..., 2 * h : 3 * h] = src[..., 3 * h :]
    dst[..., 3 * h :] = src[..., :h]


def _cell(u, cy, c_out, tc_out, h_out, w) -> None:
    """One step's cell update in place, all (·, H, B): u = [z_o/2, z_i/2, z_f/2, z_g] -> o, i, f,
    g; cy[0] <- g; c_out <- f cy[1] + i g; tc_out <- tanh(c); h_out <- o tc."""
    np.tanh(u, out=u)
    s = u[:3]
    s *= 0.5
    s += 0.5  # o, i, f = sigmoid(z) = 0.5 tanh(z / 2) + 0.5
    np.copyto(cy[0], u[3])  # g, next to c_{t-1}
    np.multiply(u[1:3], cy, out=w)  # [i g, f c_{t-1}]
    np.add(w[0], w[1], out=c_out)
    np.multiply(u[0], np.tanh(c_out, out=tc_out), out=h_out)  # o tanh(c)


def lstm_forward(attrs, xs, params, ctx):
    x = xs[0]
    recurrent = params["recurrent"]
    batch, steps, n_in = x.shape
    h = recurrent.shape[0]
    dt = x.dtype
    lay = make_layout(ctx.lengths, batch, steps)
    te, counts = lay.t_eff, lay.counts
    seq = attrs["return_sequences"]
    recur_t = _internal(recurrent, h, scaled=True).T  # (4H, H)
    kernel_t = _internal(params["kernel"], h, scaled=True).T  # (4H, in)
    bias = _internal(params["bias_ih"] + params["bias_hh"], h, scaled=True)[:, None]
    xt = time_major(x, lay)
    xT = xt.transpose(0, 2, 1)  # (te, in, B) views
    train = ctx.training
    # Training keeps every step (backward reads them); inference keeps one step of gates and
    # two of states (all h_t with return_sequences or lengths), so its buffers stay in cache.
    G = take((te if train else 1, 4, h, batch), dt)
    if train:  # the input projection of all steps: z_t^T = kernel^T x_t^T, one batched GEMM
        g3 = G.reshape(te, 4 * h, batch)
        np.matmul(kernel_t, xT, out=g3)
        g3 += bias
    state_out = bool(attrs.get("state_output"))  # an encoder whose final [h, c] starts a decoder
    CY = take((te + 1 if train or state_out else 2, 2, h, batch), dt)  # all c_t: c at each last step
    TC = take((te if train else 1, h, batch), dt)
    HS = take((te + 1 if train or seq or lay.padded else 2, h, batch), dt)
    has_h0 = len(xs) > 1  # optional initial state [h_0, c_0] (batch, 2H)
    HS[0] = sorted_rows(xs[1][:, :h], lay).T if has_h0 else 0
    CY[0, 1] = sorted_rows(xs[1][:, h:], lay).T if has_h0 else 0
    # training's recurrent term (columns past the running ones stay 0); inference has none
    tmp = take((4 * h, batch), dt, zero=lay.padded) if train else None
    w = take((2, h, batch), dt)
    # Every step runs all B columns (contiguous calls); with lengths, the columns of finished
    # samples run on over zero inputs (finite, never read): their outputs are zeroed below and
    # backward masks their gradients. Only the recurrent GEMM skips them.
    nc, nh = CY.shape[0], HS.shape[0]
    if train:
        for t in range(te):
            u, n = G[t], counts[t]
            if t or has_h0:  # h_0 = 0 adds nothing
                if t and n < counts[t - 1]:
                    tmp[:, n:] = 0
                np.matmul(recur_t, HS[t % nh, :, :n], out=tmp[:, :n])
                u.reshape(4 * h, batch)[...] += tmp
            _cell(u, CY[t % nc], CY[(t + 1) % nc, 1], TC[t], HS[(t + 1) % nh], w)
    else:
        _infer_steps(xT, kernel_t, recur_t, bias, G[0], CY, TC[0], HS, w)
    if lay.padded and seq:
        HS[1:] *= _step_mask(lay, dt)[:, None]  # outputs at padded steps are 0
    hs = HS.transpose(0, 2, 1)  # (·, B, H) views
    if seq:
        y = batch_major(hs[1:], lay)
    else:
        y = last_state(hs, lay) if nh == te + 1 else hs[te % nh].copy()
    if state_out:
        y = np.concatenate([y, last_state(CY[:, 1].transpose(0, 2, 1), lay)], axis=1)
    give(w)
    if not train:
        give(G, CY, TC, HS)
        return y, None
    give(tmp)
    return y, (xt, HS, CY, TC, G, lay, has_h0)


def _infer_steps(xT, kernel_t, recur_t, bias, u, CY, tc, HS, w) -> None:
    """The inference time loop: ONE GEMM a step, [kernel | recurrent | bias] @ [x_t; h_{t-1}; 1]
    (the bias rides on a row of ones). Measured at batch 256, 64 units, 8 inputs: the separate
    input GEMM (K = 8) and the broadcast bias add cost ~50 us a step, more than the K = 9 rows
    they add to the recurrent GEMM. All columns run (finished samples over zero inputs: finite,
    never read, as in training)."""
    te, n_in, batch = xT.shape
    h = recur_t.shape[1]
    nc, nh = CY.shape[0], HS.shape[0]
    w_all = np.concatenate([kernel_t, recur_t, bias], axis=1)  # (4H, in + H + 1)
    XH = take((2, n_in + h + 1, batch), xT.dtype)
    XH[:, n_in + h] = 1
    XH[0, n_in : n_in + h] = HS[0]
    u2 = u.reshape(4 * h, batch)
    keep_all = nh == te + 1  # every h_t is kept (return_sequences or lengths)
    for t in range(te):
        cur, nxt = XH[t % 2], XH[(t + 1) % 2]
        cur[:n_in] = xT[t]
        np.matmul(w_all, cur, out=u2)
        h_out = HS[t + 1] if keep_all else nxt[n_in : n_in + h]
        _cell(u, CY[t % nc], CY[(t + 1) % nc, 1], tc, h_out, w)
        if keep_all:
            nxt[n_in : n_in + h] = h_out
    if not keep_all:
        HS[te % nh] = XH[te % 2, n_in : n_in + h]
    give(XH)


def _backward_factors(G, CY, TC):
    """The step-local factors of the gate gradients, for all steps at once.

    AB (te, 2, H, B) multiplies dL/dh_t: [o (1 - tanh(c)^2), tanh(c) o (1 - o)];
    P (te, 4, H, B) multiplies dL/dc_t: [g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2), f].
    """
    te = G.shape[0]
    sig = G[:, :3]  # o, i, f
    ds = np.subtract(1, sig, out=take(sig.shape, sig.dtype))
    ds *= sig  # sigmoid'
    o, i, f = G[:, 0], G[:, 1], G[:, 2]
    g, c_prev = CY[:te, 0], CY[:te, 1]
    AB = take((te, 2, *TC.shape[1:]), G.dtype)
    a = AB[:, 0]
    np.multiply(TC, TC, out=a)
    np.subtract(1, a, out=a)
    a *= o
    np.multiply(TC, ds[:, 0], out=AB[:, 1])
    P = take(G.shape, G.dtype)
    np.multiply(g, ds[:, 1], out=P[:, 0])
    np.multiply(c_prev, ds[:, 2], out=P[:, 1])
    pg = P[:, 2]
    np.multiply(g, g, out=pg)
    np.subtract(1, pg, out=pg)
    pg *= i
    P[:, 3] = f
    give(ds)
    return AB, P


def _step_mask(lay, dtype) -> np.ndarray:
    """(t_eff, B) 1 at real steps, 0 at padded ones (sorted column order)."""
    return (np.arange(lay.t_eff)[:, None] < lay.lengths[None, :]).astype(dtype)


def lstm_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    xt, HS, CY, TC, G, lay, has_h0 = cache
    h = params["recurrent"].shape[0]
    te, batch = lay.t_eff, lay.batch
    dt = dy.dtype
    recur = _internal(params["recurrent"], h, scaled=False)  # (H, 4H): dh^T = recur dz^T
    seq = attrs["return_sequences"]
    AB, P = _backward_factors(G, CY, TC)
    if lay.padded:  # AB = 0 at padded steps: there dc, dz and so R^T dz are 0 (by induction)
        AB *= _step_mask(lay, dt)[:, None, None]
    if seq:  # dy enters at every step (0 at padded steps)
        inject = np.ascontiguousarray(time_major(dy, lay).transpose(0, 2, 1))
        dh = inject[te - 1].copy() if te else np.zeros((h, batch), dtype=dt)
    else:  # dy enters at each sample's last real step
        dh = np.ascontiguousarray(sorted_rows(dy[:, :h], lay).T)
        dy_sorted = dh.copy() if lay.padded else None
    # a state output [h_T, c_T]: dL/dc_T enters dc at each sample's last real step
    dc_last = np.ascontiguousarray(sorted_rows(dy[:, h:], lay).T) if attrs.get("state_output") else None
    counts = lay.counts
    Z, dc = take((te, 6, h, batch), dt), take((h, batch), dt)
    for t in range(te - 1, -1, -1):
        zt = Z[t]
        np.multiply(dh, AB[t], out=zt[:2])  # [dc via dh, dz_o]
        d = np.add(zt[0], Z[t + 1, 5], out=dc) if t + 1 < te else zt[0]  # + f_{t+1} dc_{t+1}
        if dc_last is not None:  # the columns whose last real step is t
            lo, hi = counts[t + 1] if t + 1 < te else 0, counts[t]
            d[:, lo:hi] += dc_last[:, lo:hi]
        np.multiply(d, P[t], out=zt[2:])  # [dz_i, dz_f, dz_g, dc_{t-1}]
        if t:  # finished columns have dz = 0: the GEMM skips them (their dh is not read)
            n = counts[t]
            np.matmul(recur, zt[1:5].reshape(4 * h, batch)[:, :n], out=dh[:, :n])
            if seq:
                dh += inject[t - 1]
            elif dy_sorted is not None and counts[t - 1] > counts[t]:
                # the samples whose last real step is t - 1 (sorted: a range of columns)
                dh[:, counts[t] : counts[t - 1]] = dy_sorted[:, counts[t] : counts[t - 1]]
    dstate = []
    if len(need_dx) > 1:  # dL/d[h_0, c_0]: through the step-0 GEMM, and f_0 dc_0
        dh0 = np.matmul(recur, Z[0, 1:5].reshape(4 * h, batch)) if te else dh
        dstate = [unsorted_rows(np.concatenate([dh0.T, Z[0, 5].T], axis=1), lay) if need_dx[1] else None]
    # dz^T of all steps side by side: (4H, te B), columns in time-major order
    dz = take((4 * h, te, batch), dt)
    np.copyto(dz, Z[:, 1:5].reshape(te, 4 * h, batch).transpose(1, 0, 2))
    give(Z, dc, AB, P, G, CY, TC)
    dz = dz.reshape(4 * h, te * batch)
    if "kernel" in grads:
        _to_param_order(np.matmul(dz, xt.reshape(te * batch, xt.shape[2])).T, grads["kernel"], h)
    if "recurrent" in grads:
        first = 0 if has_h0 else 1  # h_0 = 0 adds nothing
        prev = take((h, max(te - first, 0), batch), dt)
        np.copyto(prev, HS[first:te].transpose(1, 0, 2))
        # (4H, K) @ (K, H) then a transposed view: ~20% faster in OpenBLAS than (H, K) @ (K, 4H)
        _to_param_order(np.matmul(dz[:, first * batch :], prev.reshape(h, -1).T).T, grads["recurrent"], h)
        give(prev)
    give(HS)
    if "bias_ih" in grads or "bias_hh" in grads:
        db = dz @ np.ones(dz.shape[1], dtype=dt)  # a GEMV: ~3x faster than dz.sum(axis=1)
        for role in ("bias_ih", "bias_hh"):
            if role in grads:
                _to_param_order(db, grads[role], h)
    dx = None
    if need_dx[0]:
        kernel = _internal(params["kernel"], h, scaled=False)  # (in, 4H)
        dxt = np.matmul(kernel, dz).reshape(kernel.shape[0], te, batch).transpose(1, 2, 0)
        dx = batch_major(dxt, lay)
    give(dz)
    return [dx, *dstate]
