"""Numba loops for the lstm cell's elementwise math (see compiled.py for when they run).

At batch 32 and 64 units a step's arrays are 2,048 values: numpy's per-call cost, not the
arithmetic, is most of the cell. These loops do in one call what lstm_cell.py does in several,
with the same operations in the same order (no fused multiply-adds: Numba does not contract
them), so either path gives the same values. For float64 the tanh stays numpy's; float32
cells run whole in `cell_forward`, with fast_tanh.py's rational tanh in place of numpy's, which
is a SIMD loop on some CPUs and a scalar one (~4x slower than this) on others.

Arrays: G (4, L) and CY (2, L) hold a step's gate and [g, c_{t-1}] blocks at columns lo:hi
(the full-batch kernels pass one step's (4, H B) block with lo = 0; the packed ones their
block-major arrays). Slicing inside the loop keeps the rows contiguous to Numba: a non-contiguous
(4, m) view passed in ran 3-4x slower in a prototype. One loop per destination row: with several
rows written in one loop LLVM cannot rule out that they overlap and does not vectorize (2.8x
slower in a prototype).
"""

from __future__ import annotations

from numba import njit

from .tanh_loops import tanh32 as _tanh32


@njit(inline="always")
def _after_gates(G, CY, lo, hi, c_out, tc_out, h_out):
    o, i, f, g = G[0, lo:hi], G[1, lo:hi], G[2, lo:hi], G[3, lo:hi]
    gy, cp = CY[0, lo:hi], CY[1, lo:hi]
    n = hi - lo
    for j in range(n):
        gy[j] = g[j]
    for j in range(n):
        c_out[j] = i[j] * g[j] + f[j] * cp[j]
    for j in range(n):
        tc_out[j] = _tanh32(c_out[j])
    for j in range(n):
        h_out[j] = o[j] * tc_out[j]


# error_model="numpy": see tanh_loops.py
@njit(cache=True, nogil=True, error_model="numpy")
def cell_forward(z, G, CY, lo, hi, c_out, tc_out, h_out, half):
    """A float32 step's whole cell: from z (4, m) = [z_o/2, z_i/2, z_f/2, z_g], an array of its
    own, o, i, f <- 0.5 tanh(z) + 0.5, g <- tanh(z_g) into G[:, lo:hi] and CY[0, lo:hi],
    c_out <- i g + f c_{t-1}, tc_out <- tanh(c), h_out <- o tc (lstm_cell.Cell.forward)."""
    for k in range(3):  # o, i, f: sigmoid
        src, dst = z[k], G[k, lo:hi]
        for j in range(hi - lo):
            dst[j] = _tanh32(src[j]) * half + half
    src, dst = z[3], G[3, lo:hi]
    for j in range(hi - lo):  # g: tanh (not * 1 + 0, which would turn a -0 into +0)
        dst[j] = _tanh32(src[j])
    _after_gates(G, CY, lo, hi, c_out, tc_out, h_out)


@njit(cache=True, nogil=True, error_model="numpy")
def cell_forward_inplace(G, CY, lo, hi, c_out, tc_out, h_out, half):
    """cell_forward with z = G[:, lo:hi] itself (inference). A function of its own: given z
    and G as two arguments, LLVM cannot tell that they are one array and checks for overlap,
    which sends the loops to their scalar versions (a 16,384-value block: 299-423 vs 69-71 us,
    `python bench/fit_tanh.py --speed`)."""
    for k in range(3):
        a = G[k, lo:hi]
        for j in range(hi - lo):
            a[j] = _tanh32(a[j]) * half + half
    a = G[3, lo:hi]
    for j in range(hi - lo):
        a[j] = _tanh32(a[j])
    _after_gates(G, CY, lo, hi, c_out, tc_out, h_out)


@njit(cache=True, nogil=True)
def gates(G, CY, lo, hi, c_out, half):
    """After u = tanh(z) over G[:, lo:hi] = [z_o/2, z_i/2, z_f/2, z_g]: o, i, f <- 0.5 u + 0.5
    (sigmoid), CY[0] <- g, c_out <- i g + f c_{t-1} (lstm_cell.Cell.forward up to its second tanh)."""
    o, i, f, g = G[0, lo:hi], G[1, lo:hi], G[2, lo:hi], G[3, lo:hi]
    gy, cp = CY[0, lo:hi], CY[1, lo:hi]
    n = hi - lo
    for j in range(n):
        o[j] = o[j] * half + half
    for j in range(n):
        i[j] = i[j] * half + half
    for j in range(n):
        f[j] = f[j] * half + half
    for j in range(n):
        gy[j] = g[j]
    for j in range(n):
        c_out[j] = i[j] * g[j] + f[j] * cp[j]


@njit(cache=True, nogil=True)
def step_grads(G, CY, lo, hi, tc, dh, dc_in, Z, one, dz, col):
    """One BPTT step through the cell, the factors of lstm_cell.backward_factors computed on
    the way: Z (6, m) <- [dc_t, dz_o, dz_i, dz_f, dz_g, dc_{t-1}], where dc_t = dh (1 - tc^2) o
    + dc_in, from the step's gates G[:, lo:hi] = [o, i, f, g], CY[:, lo:hi] = [g, c_{t-1}],
    tc = tanh(c_t), dh = dL/dh_t and dc_in = the rest of dL/dc_t (f_{t+1} dc_{t+1}, ...);
    then the step's dz, (4H, n), into columns col:col + n of dz (4H, all steps' samples)."""
    o, i, f, g = G[0, lo:hi], G[1, lo:hi], G[2, lo:hi], G[3, lo:hi]
    cp = CY[1, lo:hi]
    d, dzo, dzi, dzf, dzg, dcp = Z[0], Z[1], Z[2], Z[3], Z[4], Z[5]
    n = hi - lo
    for j in range(n):
        d[j] = dh[j] * ((one - tc[j] * tc[j]) * o[j]) + dc_in[j]
    for j in range(n):
        dzo[j] = dh[j] * (tc[j] * ((one - o[j]) * o[j]))
    for j in range(n):
        dzi[j] = d[j] * (g[j] * ((one - i[j]) * i[j]))
    for j in range(n):
        dzf[j] = d[j] * (cp[j] * ((one - f[j]) * f[j]))
    for j in range(n):
        dzg[j] = d[j] * ((one - g[j] * g[j]) * i[j])
    for j in range(n):
        dcp[j] = d[j] * f[j]
    rows = dz.shape[0]
    width = n // (rows // 4)
    for r in range(rows):  # dz's rows are Z's 4H rows of `width` samples
        src, dst = Z[1 + r // (rows // 4), (r % (rows // 4)) * width :], dz[r, col:]
        for b in range(width):
            dst[b] = src[b]
