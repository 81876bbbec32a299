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
sorted time-major layout of recurrent_layout.py. Gate blocks are reordered to o, i, f, g
(lstm_cell.py). Training batches with lengths run in lstm_packed.py (only the running samples
each step); this file trains full batches and runs inference. With te = t_eff, B = batch and
K = in + H + 1:
- XH (te + 1, K, B): XH[t] = [x_t; h_{t-1}; 1], the operand of step t's ONE GEMM with
  [kernel | recurrent | bias] (4H, K); the cell writes h_t into XH[t + 1]. (Measured: the
  separate all-steps input projection and the per-step add of the recurrent term cost more
  than the 9 extra GEMM rows.) Backward reuses it: dz (4H, te B) @ XH^T gives the kernel,
  recurrent and bias gradients in one GEMM;
- G (te, 4, H, B): the activations o, i, f, g; CY (te + 1, 2, H, B): CY[t] = [g_t, c_{t-1}],
  adjacent so that ONE product with G[t, 1:3] gives [i g, f c_{t-1}]; TC (te, H, B) = tanh(c_t).
Inference keeps one step of gates and ping-pongs two [x_t; h_{t-1}; 1] buffers.

How it is fast (DESIGN.md section 4): at batch 32 and 64 units the count and kind of numpy calls
per step dominate. So
- the sigmoid gates' weight columns are pre-scaled by 1/2 (exact in floating point): ONE tanh
  over all four blocks gives g and tanh(z/2), and sigmoid(z) = 0.5 tanh(z/2) + 0.5 is two
  calls on the contiguous o, i, f blocks. (Measured on AVX-512 numpy, float32, one (256, 32)
  block: tanh 2.4 us, exp 3.2 us, so this beats the exp/add/reciprocal form, which needs two
  more calls to turn sigmoid(2 z_g) into g; `python bench/bench_recurrent.py` compares);
- backward first computes, vectorised over all steps, the factors that do not depend on the
  recurrence (sigmoid', 1 - tanh^2 and their products, `backward_factors`); each step is
  then 3 elementwise calls and one GEMM writing Z (te, 6, H, B) = [dc via dh, dz_o, dz_i,
  dz_f, dz_g, dc_{t-1}]; the weight gradients are one GEMM over all steps after the loop;
- where Numba is installed (compiled.py), the cell's elementwise calls after the tanh, and a
  backward step's factors and products, are one compiled loop each (lstm_loops.py): the same
  values, 5 numpy calls a step forward and 3 backward become one each, and the all-steps
  factor pass goes (lstm_seq training epochs 0.75x the time, `python bench/bench_ab.py
  --baseline OLD --workloads lstm_seq`); a float32 forward step, its tanh included, is one
  compiled call (fast_tanh.py: numpy's float32 tanh is a scalar loop on AVX2-only CPUs;
  there lstm_seq training epochs took 0.71x the time and predict 0.43x).
"""

from __future__ import annotations

import numpy as np

from .lstm_cell import Cell, internal, split_weight_grads, stacked_weights
from .lstm_packed import packed_backward, packed_forward
from .recurrent_buffers import give, take
from .recurrent_layout import (
    batch_major,
    last_state,
    make_layout,
    running,
    sorted_rows,
    time_major,
    unsorted_rows,
)


def lstm_forward(attrs, xs, params, ctx):
    x = xs[0]
    lay = make_layout(ctx.lengths, x.shape[0], x.shape[1])
    if not ctx.training:
        return _infer_forward(attrs, xs, params, lay), None
    if lay.padded:  # only the running samples at each step
        return packed_forward(attrs, xs, params, lay)
    return _train_forward(attrs, xs, params, lay)


def _outputs(attrs, hs, cs, lay):
    """y from the (te + 1, B, H) states hs (hs[0] the initial one) and, for a state output,
    the cell states cs of the same layout (views are fine: y is always new)."""
    y = batch_major(hs[1:], lay) if attrs["return_sequences"] else last_state(hs, lay)
    if attrs.get("state_output"):
        y = np.concatenate([y, last_state(cs, lay)], axis=1)
    return y


def _train_forward(attrs, xs, params, lay):
    """Every sample runs every step. XH (te + 1, K, B) holds each step's GEMM operand
    [x_t; h_{t-1}; 1] (K = in + H + 1): the x rows and the ones are written for all steps at
    once and the cell writes h_t straight into XH[t + 1], so a step is ONE GEMM
    [kernel | recurrent | bias] @ XH[t] and the cell, with no input projection or bias add."""
    x = xs[0]
    batch, _, n_in = x.shape
    h = params["recurrent"].shape[0]
    dt = x.dtype
    te = lay.t_eff
    w_all = stacked_weights(params, h)
    XH = take((te + 1, n_in + h + 1, batch), dt)
    np.copyto(XH[:te, :n_in], time_major(x, lay).transpose(0, 2, 1))
    XH[:, n_in + h] = 1
    has_h0 = len(xs) > 1  # optional initial state [h_0, c_0] (batch, 2H)
    HS = XH[:, n_in : n_in + h]  # (te + 1, H, B) views: HS[t + 1] = h_t
    HS[0] = sorted_rows(xs[1][:, :h], lay).T if has_h0 else 0
    G, CY, TC = take((te, 4, h, batch), dt), take((te + 1, 2, h, batch), dt), take((te, h, batch), dt)
    CY[0, 1] = sorted_rows(xs[1][:, h:], lay).T if has_h0 else 0
    m = h * batch
    z, w = take((4 * h, batch), dt), take((2, m), dt)
    z4, G4, CY2, TC1 = z.reshape(4, m), G.reshape(te, 4, m), CY.reshape(te + 1, 2, m), TC.reshape(te, m)
    HS1 = XH.reshape(te + 1, -1)[:, n_in * batch : (n_in + h) * batch]  # HS flat: h_t's m values
    cell = Cell(dt)
    for t in range(te):
        np.matmul(w_all, XH[t], out=z)
        cell.forward(z4, G4[t], CY2[t], 0, m, CY2[t + 1, 1], TC1[t], HS1[t + 1], w)
    give(z, w)
    y = _outputs(attrs, HS.transpose(0, 2, 1), CY[:, 1].transpose(0, 2, 1), lay)
    return y, (XH, CY, TC, G, lay)


def _infer_forward(attrs, xs, params, lay):
    """Inference keeps one step of gates and two of states (all h_t with return_sequences or
    lengths, all c_t with a state output), so its buffers stay in cache."""
    x = xs[0]
    h = params["recurrent"].shape[0]
    batch, dt, te = x.shape[0], x.dtype, lay.t_eff
    seq = attrs["return_sequences"]
    G, TC, w = take((1, 4, h, batch), dt), take((1, h, batch), dt), take((2, h * batch), dt)
    CY = take((te + 1 if attrs.get("state_output") else 2, 2, h, batch), dt)
    HS = take((te + 1 if seq or lay.padded else 2, h, batch), dt)
    has_h0 = len(xs) > 1
    HS[0] = sorted_rows(xs[1][:, :h], lay).T if has_h0 else 0
    CY[0, 1] = sorted_rows(xs[1][:, h:], lay).T if has_h0 else 0
    _infer_steps(time_major(x, lay).transpose(0, 2, 1), stacked_weights(params, h), G[0], CY, TC[0], HS, w)
    if lay.padded and seq:
        HS[1:] *= running(lay).astype(dt)[:, None]  # outputs at padded steps are 0
    nh = HS.shape[0]
    if nh == te + 1:
        y = _outputs(attrs, HS.transpose(0, 2, 1), CY[:, 1].transpose(0, 2, 1), lay)
    else:  # only the last h is kept: every sample ran every step
        y = HS[te % nh].T.copy()
        if attrs.get("state_output"):
            y = np.concatenate([y, last_state(CY[:, 1].transpose(0, 2, 1), lay)], axis=1)
    give(G, TC, w, CY, HS)
    return y


def _infer_steps(xT, w_all, u, CY, tc, HS, w) -> None:
    """The inference time loop: ONE GEMM a step, [kernel | recurrent | bias] @ [x_t; h_{t-1}; 1]
    (the bias rides on a row of ones). Measured at batch 256, 64 units, 8 inputs: the separate
    input GEMM (K = 8) and the broadcast bias add cost ~50 us a step, more than the K = 9 rows
    they add to the recurrent GEMM. All columns run (finished samples over zero inputs: finite,
    never read)."""
    te, n_in, batch = xT.shape
    h = HS.shape[1]
    nc, nh = CY.shape[0], HS.shape[0]
    XH = take((2, n_in + h + 1, batch), xT.dtype)
    XH[:, n_in + h] = 1
    XH[0, n_in : n_in + h] = HS[0]
    m = h * batch
    u2, u4, CY2, HS1 = u.reshape(4 * h, batch), u.reshape(4, m), CY.reshape(nc, 2, m), HS.reshape(nh, m)
    XH1 = XH.reshape(2, -1)[:, n_in * batch : (n_in + h) * batch]  # the h rows, flat
    cell, tc1 = Cell(xT.dtype), tc.reshape(m)
    keep_all = nh == te + 1  # every h_t is kept (return_sequences or lengths)
    for t in range(te):
        cur = XH[t % 2]
        cur[:n_in] = xT[t]
        np.matmul(w_all, cur, out=u2)
        h_out = HS1[t + 1] if keep_all else XH1[(t + 1) % 2]
        cell.forward(u4, u4, CY2[t % nc], 0, m, CY2[(t + 1) % nc, 1], tc1, h_out, w)
        if keep_all:
            XH1[(t + 1) % 2] = h_out
    if not keep_all:
        HS[te % nh] = XH[te % 2, n_in : n_in + h]
    give(XH)


def lstm_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    if isinstance(cache[0], str):  # a variable-length training batch
        return packed_backward(attrs, dy, cache, params, grads, need_dx)
    XH, CY, TC, G, lay = cache  # every sample ran every step
    h = params["recurrent"].shape[0]
    n_in = XH.shape[1] - h - 1
    te, batch = lay.t_eff, lay.batch
    dt = dy.dtype
    recur = internal(params["recurrent"], h, scaled=False)  # (H, 4H): dh^T = recur dz^T
    seq = attrs["return_sequences"]
    m = h * batch
    cell = Cell(dt)
    fac = cell.factors(G, CY, TC)  # None: the compiled step computes them
    G4, CY2, TC1 = G.reshape(te, 4, m), CY.reshape(te + 1, 2, m), TC.reshape(te, m)
    if seq:  # dy enters at every step
        inject = np.ascontiguousarray(time_major(dy, lay).transpose(0, 2, 1))
        dh = inject[te - 1].copy() if te else np.zeros((h, batch), dtype=dt)
    else:  # dy enters at the last step
        dh = np.ascontiguousarray(sorted_rows(dy[:, :h], lay).T)
    # a state output [h_T, c_T]: dL/dc_T enters dc at the last step
    dc_last = np.ascontiguousarray(sorted_rows(dy[:, h:], lay).T) if attrs.get("state_output") else None
    Z = take((te, 6, h, batch), dt)
    Z6 = Z.reshape(te, 6, m)
    dz = take((4 * h, te * batch), dt)  # every step's dz side by side, time-major
    if fac is not None:
        fac = fac[0].reshape(te, 2, m), fac[1].reshape(te, 4, m)
    dc_end = dc_last.reshape(m) if dc_last is not None else np.zeros(m, dt)  # enters dc_T
    dh1 = dh.reshape(m)  # a view: the GEMM below writes dh
    for t in range(te - 1, -1, -1):
        zt = Z6[t]
        dc_in = Z6[t + 1, 5] if t + 1 < te else dc_end  # f_{t+1} dc_{t+1}
        cell.backward(G4[t], CY2[t], 0, m, TC1[t], dh1, dc_in, zt, fac and (fac[0][t], fac[1][t]), dz, t * batch)
        if t:
            np.matmul(recur, zt[1:5].reshape(4 * h, batch), out=dh)
            if seq:
                dh += inject[t - 1]
    dstate = []
    if len(need_dx) > 1:  # dL/d[h_0, c_0]: through the step-0 GEMM, and f_0 dc_0
        dh0 = np.matmul(recur, Z[0, 1:5].reshape(4 * h, batch)) if te else dh
        dc0 = Z[0, 5] if te else (dc_last if dc_last is not None else np.zeros((h, batch), dt))
        dstate = [unsorted_rows(np.concatenate([dh0.T, dc0.T], axis=1), lay) if need_dx[1] else None]
    if not cell.writes_dz:
        np.copyto(dz.reshape(4 * h, te, batch), Z[:, 1:5].reshape(te, 4 * h, batch).transpose(1, 0, 2))
    # the GEMM operands of all steps, time-major like dz. Up to batch 64 they are copied
    # transposed, (te B, K), so the product's right operand is contiguous (OpenBLAS ran a
    # transposed one slower there: lstm_seq 25 + 716 us as (K, te B) rows, 38 + 675 us so, on
    # AVX-512); at batch 256 the transposing copy cost more than it saved (10.9 vs 11.4 ms,
    # AVX2). Either way the same bits.
    k = XH.shape[1]
    if batch <= 64:
        ops = take((te, batch, k), dt)
        np.copyto(ops, XH[:te].transpose(0, 2, 1))
        right = ops.reshape(-1, k)
    else:
        ops = take((k, te, batch), dt)
        np.copyto(ops, XH[:te].transpose(1, 0, 2))
        right = ops.reshape(k, -1).T
    give(Z, G, CY, TC, XH, *(fac or ()))
    # (4H, te B) @ (te B, K): measured 0.72 vs 0.79 ms for the (K, 4H) orientation (lstm_seq)
    split_weight_grads(np.matmul(dz, right), n_in, h, grads)
    give(ops)
    dx = None
    if need_dx[0]:
        kernel = internal(params["kernel"], h, scaled=False)  # (in, 4H)
        dxt = np.matmul(kernel, dz).reshape(n_in, te, batch).transpose(1, 2, 0)
        dx = batch_major(dxt, lay)
    give(dz)
    return [dx, *dstate]
