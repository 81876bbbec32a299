"""Numba loops for fast_tanh.py's float32 rational tanh (see compiled.py for when they run):
the scalar function the LSTM cell inlines, and in-place passes over column ranges for the rnn
and the gru.

error_model="numpy": with Numba's default a division checks for zero and raises, a branch that
keeps LLVM from vectorizing the loop (4 vs 0.7 ns a value in a prototype).
"""

from __future__ import annotations

from numba import njit

from .fast_tanh import CLAMP, P, Q

P0, P1, P2, P3, P4 = (P[k] for k in range(5))
Q0, Q1, Q2, Q3, Q4 = (Q[k] for k in range(5))
ONE = P[0]


@njit(inline="always")
def tanh32(x):
    """fast_tanh.reference for one float32 value, in its order of operations."""
    if x > CLAMP:
        x = CLAMP
    elif x < -CLAMP:
        x = -CLAMP
    s = x * x
    p = (((P4 * s + P3) * s + P2) * s + P1) * s + P0
    q = (((Q4 * s + Q3) * s + Q2) * s + Q1) * s + Q0
    r = (p * x) / q
    if r > ONE:
        r = ONE
    elif r < -ONE:
        r = -ONE
    return r


@njit(cache=True, nogil=True, error_model="numpy")
def tanh_cols(a, lo, hi):
    """a[:, lo:hi] <- tanh(a[:, lo:hi]), a a 2-D float32 array with contiguous rows."""
    for r in range(a.shape[0]):
        row = a[r, lo:hi]
        for j in range(hi - lo):
            row[j] = tanh32(row[j])


@njit(cache=True, nogil=True, error_model="numpy")
def sigmoid_cols(a, lo, hi, half):
    """a[:, lo:hi] <- sigmoid(a[:, lo:hi]) = 0.5 tanh(a / 2) + 0.5, in the numpy path's order
    (compiled.sigmoid_cols)."""
    for r in range(a.shape[0]):
        row = a[r, lo:hi]
        for j in range(hi - lo):
            row[j] = tanh32(row[j] * half) * half + half
