"""The LSTM cell's math, shared by the full-batch kernels (lstm_kernels.py) and the
variable-length training kernels (lstm_packed.py).

Per-step arrays are feature-major: a gate block is one contiguous run (H, batch) or, in the
packed layout, (H * running,). Every function here is elementwise over such runs, so it takes
either shape. Gate blocks run in the internal order o, i, f, g (`internal`, `to_param_order`),
with the sigmoid blocks' weights pre-scaled by 1/2: one tanh over all four blocks gives g and
tanh(z / 2), and sigmoid(z) = 0.5 tanh(z / 2) + 0.5.
"""

from __future__ import annotations

import numpy as np

from .recurrent_buffers import give, take

# forward pre-scaling of the internal blocks o, i, f (g is unscaled): tanh(u) = tanh(z / 2)
SIGMOID_SCALE = 0.5


def internal(w: np.ndarray, h: int, scaled: bool) -> np.ndarray:
    """Gate blocks i, f, g, o (last axis) -> o, i, f, g; times SIGMOID_SCALE if `scaled`."""
    out = np.empty_like(w)
    out[..., :h] = w[..., 3 * h :]
    out[..., h : 3 * h] = w[..., : 2 * h]
    out[..., 3 * h :] = w[..., 2 * h : 3 * h]
    if scaled:
        out[..., : 3 * h] *= SIGMOID_SCALE
    return out


def to_param_order(src: np.ndarray, dst: np.ndarray, h: int) -> None:
    """dst <- src with internal gate blocks o, i, f, g back in the parameters' order i, f, g, o."""
    dst[..., : 2 * h] = src[..., h : 3 * h]
    dst[..., 2 * h : 3 * h] = src[..., 3 * h :]
    dst[..., 3 * h :] = src[..., :h]


def cell(z, u, cy, c_out, tc_out, h_out, w) -> None:
    """One step's cell update, all (·, H, B) or (·, H * n): z = [z_o/2, z_i/2, z_f/2, z_g] (the
    GEMM's output; may be u itself) -> u = o, i, f, g; cy[0] <- g; c_out <- f cy[1] + i g;
    tc_out <- tanh(c); h_out <- o tc."""
    np.tanh(z, out=u)
    s = u[:3]
    s *= 0.5
    s += 0.5  # o, i, f = sigmoid(z) = 0.5 tanh(z / 2) + 0.5
    np.copyto(cy[0], u[3])  # g, next to c_{t-1}
    np.multiply(u[1:3], cy, out=w)  # [i g, f c_{t-1}]
    np.add(w[0], w[1], out=c_out)
    np.multiply(u[0], np.tanh(c_out, out=tc_out), out=h_out)  # o tanh(c)


def backward_factors(G, CY, TC):
    """The step-local factors of the gate gradients, for all steps at once, from G (te, 4, ...)
    = [o, i, f, g], CY (te or more, 2, ...) = [g, c_{t-1}] and TC (te, ...) = tanh(c_t).

    AB (te, 2, ...) multiplies dL/dh_t: [o (1 - tanh(c)^2), tanh(c) o (1 - o)];
    P (te, 4, ...) multiplies dL/dc_t: [g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2), f].
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


def stacked_weights(params, h: int) -> np.ndarray:
    """[kernel | recurrent | bias] (4H, in + H + 1) in the internal gate order, pre-scaled."""
    kernel_t = internal(params["kernel"], h, scaled=True).T
    recur_t = internal(params["recurrent"], h, scaled=True).T
    bias = internal(params["bias_ih"] + params["bias_hh"], h, scaled=True)[:, None]
    return np.concatenate([kernel_t, recur_t, bias], axis=1)


def split_weight_grads(dw_all: np.ndarray, n_in: int, h: int, grads) -> None:
    """d[kernel | recurrent | bias] (4H, K), internal order -> grads in parameter layout."""
    if "kernel" in grads:
        to_param_order(dw_all[:, :n_in].T, grads["kernel"], h)
    if "recurrent" in grads:
        to_param_order(dw_all[:, n_in : n_in + h].T, grads["recurrent"], h)
    for role in ("bias_ih", "bias_hh"):
        if role in grads:
            to_param_order(dw_all[:, n_in + h], grads[role], h)
