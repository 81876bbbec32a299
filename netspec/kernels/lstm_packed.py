"""lstm training over variable-length batches: every step computes only the samples still running.

The full-batch kernels (lstm_kernels.py) run all B columns at every step; with lengths, the
finished samples' columns would run on as garbage (at batch 32 with lengths uniform in
[10, 50], ~40% of the elementwise work). Here step t works on its n_t = counts[t] running
samples only (the first n_t columns: the layout sorts by length) and every array is PACKED, so
each elementwise call is still one contiguous loop. With S = sum of n_t and off_t the running
sum of the counts before step t (te = t_eff, B = batch, K = in + H + 1):

- G (4, H S): gate blocks o, i, f, g, block-major; step t's blocks are the (H, n_t) runs at
  [H off_t : H off_{t+1}]. CY (2, H S) = [g_t, c_{t-1}] and TC (H S) = tanh(c_t) line up with
  them, so the backward factors are computed for all steps in one set of calls, with no padding.
- XH (te + 1, K B): slot t holds step t's GEMM operand [x_t; h_{t-1}; 1] (K, w_t) at width
  w_t = n_{t-1} (the width h_{t-1} was produced at; w_0 = B); the step multiplies its first
  n_t columns: ONE GEMM [kernel | recurrent | bias] @ [x_t; h_{t-1}; 1] a step, no separate
  input projection and no bias add. The cell writes h_t straight into slot t + 1.
- Z (flat): step t's [dc via dh, dz_o, dz_i, dz_f, dz_g, dc_{t-1}] as (6, H, n_t), back to back.
- where the width shrinks (n_{t+1} < n_t), step t + 1 reads the first n_{t+1} columns of h_t
  and c_t and the finished samples' final h, c are set aside (many-to-one output, state
  output); in backward, dL/dh of those samples enters there.
All weight gradients come from ONE GEMM after the loop: dz (4H, S) @ [x; h_{t-1}; 1] (S, K).
"""

from __future__ import annotations

import numpy as np

from .lstm_cell import Cell, internal, split_weight_grads, stacked_weights
from .recurrent_buffers import give, take
from .recurrent_layout import batch_major, running, sorted_rows, time_major, unsorted_rows


def packed_forward(attrs, xs, params, lay):
    x = xs[0]
    batch, _, n_in = x.shape
    h = params["recurrent"].shape[0]
    k = n_in + h + 1
    dt = x.dtype
    te, counts = lay.t_eff, lay.counts
    offs = [0]
    for n in counts:
        offs.append(offs[-1] + n)
    hs_ = h * offs[-1]
    w_all = stacked_weights(params, h)
    xT = time_major(x, lay, zero_padded=False).transpose(0, 2, 1)  # (te, in, B) views
    G, CY, TC = take((4, hs_), dt), take((2, hs_), dt), take((hs_,), dt)
    XH = take((te + 1, k * batch), dt)
    has_h0 = len(xs) > 1
    h0 = sorted_rows(xs[1][:, :h], lay).T if has_h0 else np.zeros((h, batch), dt)
    c0 = sorted_rows(xs[1][:, h:], lay).T if has_h0 else np.zeros((h, batch), dt)
    XH[0, n_in * batch : (n_in + h) * batch] = h0.reshape(-1)
    n0 = counts[0] if te else 0
    CY[1, : h * n0].reshape(h, n0)[...] = c0[:, :n0]
    h_fin, c_fin = np.empty((h, batch), dt), np.empty((h, batch), dt)  # each sample's last h, c
    h_fin[:, n0:], c_fin[:, n0:] = h0[:, n0:], c0[:, n0:]  # length 0: the initial state
    z, w, c_tmp = take((4 * h * batch,), dt), take((2, h * batch), dt), take((h * batch,), dt)
    width = batch  # of slot t (h_{t-1})
    cell = Cell(dt)
    for t in range(te):
        n = counts[t]
        lo, hi = h * offs[t], h * offs[t + 1]
        xh = XH[t, : k * width].reshape(k, width)
        xh[:n_in, :n] = xT[t, :, :n]
        xh[n_in + h, :n] = 1
        zt = np.matmul(w_all, xh[:, :n], out=z[: 4 * h * n].reshape(4 * h, n))
        n_next = counts[t + 1] if t + 1 < te else 0
        c_out = CY[1, hi : hi + h * n] if n_next == n else c_tmp[: h * n]
        h_out = XH[t + 1, n_in * n : (n_in + h) * n]
        cell.forward(zt.reshape(4, h * n), G, CY, lo, hi, c_out, TC[lo:hi], h_out, w[:, : h * n])
        if n_next < n:  # samples n_next..n end here
            c2, h2 = c_out.reshape(h, n), h_out.reshape(h, n)
            CY[1, hi : hi + h * n_next].reshape(h, n_next)[...] = c2[:, :n_next]
            c_fin[:, n_next:n], h_fin[:, n_next:n] = c2[:, n_next:], h2[:, n_next:]
        width = n
    give(z, w, c_tmp)
    if attrs["return_sequences"]:
        ys = np.zeros((te, batch, h), dt)  # padded steps output 0
        for t in range(te):
            n = counts[t]
            ys[t, :n] = XH[t + 1, n_in * n : (n_in + h) * n].reshape(h, n).T
        y = batch_major(ys, lay)
    else:
        y = unsorted_rows(h_fin.T, lay)
    if attrs.get("state_output"):
        y = np.concatenate([y, unsorted_rows(c_fin.T, lay)], axis=1)
    return y, ("packed", XH, CY, TC, G, lay, offs)


def packed_backward(attrs, dy, cache, params, grads, need_dx):
    _, XH, CY, TC, G, lay, offs = cache
    h = params["recurrent"].shape[0]
    n_in = params["kernel"].shape[0]
    k = n_in + h + 1
    te, batch, counts = lay.t_eff, lay.batch, lay.counts
    dt = dy.dtype
    recur = internal(params["recurrent"], h, scaled=False)  # (H, 4H): dh^T = recur dz^T
    seq = attrs["return_sequences"]
    cell = Cell(dt)
    fac = cell.factors(G[None], CY[None], TC[None])  # (1, 2 | 4, H S): all steps at once
    if fac is not None:  # None: the compiled step computes them
        fac = fac[0][0], fac[1][0]
    if seq:  # dy enters at every real step
        inject = np.ascontiguousarray(time_major(dy, lay).transpose(0, 2, 1))  # (te, H, B)
        dy_last = np.zeros((h, batch), dt)
    else:  # dy enters at each sample's last real step
        dy_last = np.ascontiguousarray(sorted_rows(dy[:, :h], lay).T)
    dc_last = np.ascontiguousarray(sorted_rows(dy[:, h:], lay).T) if attrs.get("state_output") else None
    total = offs[-1]
    Z = take((6 * h * total,), dt)
    dz = take((4 * h, total), dt)  # every step's dz side by side, packed
    dh_buf, dc = take((h * batch,), dt), take((h * batch,), dt)  # dc: dL/dc_t not via h_t
    n_last = counts[te - 1] if te else 0
    dh = dh_buf[: h * n_last].reshape(h, n_last)
    if te:
        dh[...] = inject[te - 1, :, :n_last] if seq else dy_last[:, :n_last]
    z_next = None
    for t in range(te - 1, -1, -1):
        n = counts[t]
        lo, hi = h * offs[t], h * offs[t + 1]
        zt = Z[6 * lo : 6 * hi].reshape(6, h * n)
        n_next = counts[t + 1] if t + 1 < te else 0  # f_{t+1} dc_{t+1} enters the first n_next
        if n_next and n_next == n and dc_last is None:
            dc_in = z_next[5]
        else:  # and a state output's dL/dc enters the samples whose last real step is t
            dc_in = dc[: h * n].reshape(h, n)
            dc_in[:, :n_next] = z_next[5].reshape(h, n_next) if n_next else 0
            dc_in[:, n_next:] = dc_last[:, n_next:n] if dc_last is not None else 0
        fac_t = fac and (fac[0][:, lo:hi], fac[1][:, lo:hi])
        cell.backward(G, CY, lo, hi, TC[lo:hi], dh.reshape(-1), dc_in.reshape(-1), zt, fac_t, dz, offs[t])
        z_next = zt
        if t:
            p = counts[t - 1]
            dh = dh_buf[: h * p].reshape(h, p)
            np.matmul(recur, zt[1:5].reshape(4 * h, n), out=dh[:, :n])
            if p > n:  # samples whose last real step is t - 1
                dh[:, n:] = dy_last[:, n:p]
            if seq:
                dh += inject[t - 1, :, :p]
    dstate = [None] if len(need_dx) > 1 else []
    if len(need_dx) > 1 and need_dx[1]:  # dL/d[h_0, c_0]: step 0's GEMM and f_0 dc_0; length 0: dy
        n0 = counts[0] if te else 0
        dh0 = dy_last.copy()
        dc0 = dc_last.copy() if dc_last is not None else np.zeros((h, batch), dt)
        if n0:
            z0 = Z[: 6 * h * n0].reshape(6, h * n0)
            dh0[:, :n0] = np.matmul(recur, z0[1:5].reshape(4 * h, n0))
            dc0[:, :n0] = z0[5].reshape(h, n0)
        dstate = [unsorted_rows(np.concatenate([dh0.T, dc0.T], axis=1), lay)]
    # the GEMM operands of all steps side by side, packed like dz: (K, S)
    ops = take((total, k), dt)  # transposed: the weight GEMM's right operand contiguous (lstm_kernels)
    width = batch
    for t in range(te):
        n, o = counts[t], offs[t]
        if not cell.writes_dz:
            dz[:, o : o + n] = Z[6 * h * o : 6 * h * (o + n)].reshape(6, h * n)[1:5].reshape(4 * h, n)
        ops[o : o + n] = XH[t, : k * width].reshape(k, width)[:, :n].T
        width = n
    give(Z, dh_buf, dc, G, CY, TC, XH, *(fac or ()))
    split_weight_grads(np.matmul(dz, ops), n_in, h, grads)
    give(ops)
    dx = None
    if need_dx[0]:
        kernel = internal(params["kernel"], h, scaled=False)  # (in, 4H)
        dxt = np.zeros((te, batch, n_in), dt)
        dxt[running(lay)] = np.matmul(kernel, dz).T
        dx = batch_major(dxt, lay)
    give(dz)
    return [dx, *dstate]
