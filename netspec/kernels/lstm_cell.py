"""The LSTM cell's math, shared by the full-batch kernels (lstm_kernels.py) and the
variable-length training kernels (lstm_packed.py).

Per-step arrays are feature-major: a gate block is one contiguous run (H, batch) or, in the
packed layout, (H * running,), handled as 1-D runs of m values. Gate blocks run in the
internal order o, i, f, g (`internal`, `to_param_order`), with the sigmoid blocks' weights
pre-scaled by 1/2: one tanh over all four blocks gives g and tanh(z / 2), and sigmoid(z) =
0.5 tanh(z / 2) + 0.5. `Cell` runs the elementwise part on the compiled loops (lstm_loops.py)
where they run, else on numpy, with the same values either way, but for the tanh of a float32
forward: the compiled cell computes fast_tanh.py's rational (within 6 ulp of numpy's tanh),
numpy `numpy_tanh32`; tests set that to fast_tanh.reference to compare the two bit for bit.
"""

from __future__ import annotations

import numpy as np

from . import compiled
from .recurrent_buffers import give, take

# forward pre-scaling of the internal blocks o, i, f (g is unscaled): tanh(u) = tanh(z / 2)
SIGMOID_SCALE = 0.5
numpy_tanh32 = np.tanh  # the numpy path's float32 tanh


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


class Cell:
    """The cell's elementwise math for one kernel call: on the compiled loops (lstm_loops.py)
    where they run, else numpy; either gives the same values. Per-step arrays are 1-D runs of
    m = H x (samples) values, contiguous; G (4, L) and CY (2, L) hold the step's gate and
    [g, c_{t-1}] blocks at columns lo:hi (one step's whole array with lo = 0 in the full-batch
    kernels; the block-major arrays of all steps in the packed ones). Made once per call: a
    step is ~10 us, so what can be looked up once is."""

    def __init__(self, dtype):
        self.loops = compiled.lstm_loops() if compiled.enabled() else None
        self.half, self.one = np.dtype(dtype).type(0.5), np.dtype(dtype).type(1)
        f32 = np.dtype(dtype) == np.float32
        self.whole_cell = self.loops is not None and f32
        self.tanh = numpy_tanh32 if f32 else np.tanh

    @property
    def writes_dz(self) -> bool:
        """Whether `backward` also copies each step's dz into the weight GEMM's operand."""
        return self.loops is not None

    def forward(self, z, G, CY, lo, hi, c_out, tc_out, h_out, w) -> None:
        """z (4, m) = [z_o/2, z_i/2, z_f/2, z_g] (the GEMM's output; may be G[:, lo:hi] itself)
        -> G[:, lo:hi] = o, i, f, g; CY[0, lo:hi] <- g (next to c_{t-1} in CY[1]); c_out <- f
        c_{t-1} + i g; tc_out <- tanh(c); h_out <- o tc. w: (2, m) scratch."""
        if self.whole_cell:  # tanh included: numpy's float32 tanh is a scalar loop on some CPUs
            # z is G itself at inference (np.shares_memory would cost ~1 us a step); any other
            # overlap stays correct in cell_forward, only slower
            if z is G and lo == 0 and hi == G.shape[1]:
                self.loops.cell_forward_inplace(G, CY, lo, hi, c_out, tc_out, h_out, self.half)
            else:
                self.loops.cell_forward(z, G, CY, lo, hi, c_out, tc_out, h_out, self.half)
            return
        u = G[:, lo:hi]
        self.tanh(z, out=u)
        if self.loops is not None:  # the same products and sums in one call
            self.loops.gates(G, CY, lo, hi, c_out, self.half)
        else:
            s = u[:3]
            s *= 0.5
            s += 0.5  # o, i, f = sigmoid(z) = 0.5 tanh(z / 2) + 0.5
            cy = CY[:, lo:hi]
            np.copyto(cy[0], u[3])  # g, next to c_{t-1}
            np.multiply(u[1:3], cy, out=w)  # [i g, f c_{t-1}]
            np.add(w[0], w[1], out=c_out)
        np.multiply(u[0], self.tanh(c_out, out=tc_out), out=h_out)  # o tanh(c)

    def factors(self, G, CY, TC):
        """What `backward` needs besides the step's own arrays: numpy's backward factors for
        all steps at once (`backward_factors`), or None where the compiled loop computes them
        step by step."""
        return None if self.loops is not None else backward_factors(G, CY, TC)

    def backward(self, G, CY, lo, hi, tc, dh, dc_in, zt, fac, dz, col) -> None:
        """One BPTT step: zt (6, m) <- [dc_t, dz_o, dz_i, dz_f, dz_g, dc_{t-1}] (dz in the
        internal gate order) from dh = dL/dh_t and dc_in = the rest of dL/dc_t (f_{t+1} dc_{t+1}
        and any gradient entering at c_t; zeros for none), with the step's G[:, lo:hi],
        CY[:, lo:hi] and tc = tanh(c_t); fac: this step's (AB (2, m), P (4, m)) of `factors`.
        If `writes_dz`, the step's dz (4H, n) also goes to columns col:col + n of dz (4H, all
        steps' samples), the operand of the weight gradients' one GEMM: the compiled loop
        copies it while it is in cache (one copy of all steps after the loop measured 0.47 ms
        of a 4.6 ms lstm_seq step); for numpy, that one copy by the caller is the faster
        (a copy per step measured 0.78 ms)."""
        if fac is None:
            self.loops.step_grads(G, CY, lo, hi, tc, dh, dc_in, zt, self.one, dz, col)
            return
        ab, p = fac
        np.multiply(dh, ab, out=zt[:2])  # [dc via dh, dz_o]
        np.add(zt[0], dc_in, out=zt[0])
        np.multiply(zt[0], p, out=zt[2:])  # [dz_i, dz_f, dz_g, dc_{t-1}]


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
