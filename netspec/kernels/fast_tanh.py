"""A float32 tanh made of multiplies, adds and one division, which a compiled loop vectorizes.

numpy's float32 tanh is a SIMD loop only on some CPUs; on an AVX2-only machine (numpy 2.4) it
ran ~3 ns a value, most of an lstm_seq inference batch, while this rational in a compiled
loop ran ~1 ns (`python bench/fit_tanh.py --speed`). lstm_loops.py computes it per value in exactly
the order `reference` does with numpy ufuncs (no fused multiply-adds), so the two give the
same bits: `reference` is what the tests hold the compiled cell to.

    tanh(x) ~ x P(x^2) / Q(x^2),  x clamped to [-CLAMP, CLAMP], the result to [-1, 1]

P and Q (degree 4 in x^2) were fitted by bench/fit_tanh.py (relative minimax error 2e-8 in
float64); evaluated in float32 the result is within 6 ulp of tanh (numpy's: 1.4), monotone but
for steps back of up to 8 ulp (5e-7) near +-1, odd, exactly 0 at 0 and +-1 beyond CLAMP (where
float32 tanh rounds to +-1 anyway). NaN stays NaN: the clamps are comparisons that a NaN fails.
`python bench/fit_tanh.py --speed` times it against numpy's tanh.
"""

from __future__ import annotations

import numpy as np

CLAMP = np.float32(9.0)
P = np.array([1.0, 0.13381027, 0.0034955882, 2.0609066e-05, 1.3354615e-08], np.float32)
Q = np.array([1.0, 0.46714342, 0.025876984, 0.00032856342, 7.776544e-07], np.float32)


def reference(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The rational tanh on float32 numpy arrays, op for op as the compiled loop computes it."""
    x = np.asarray(x, np.float32)
    c = np.where(x > CLAMP, CLAMP, np.where(x < -CLAMP, -CLAMP, x))
    s = c * c
    p = P[4] * s + P[3]
    for k in (2, 1, 0):
        p = p * s + P[k]
    q = Q[4] * s + Q[3]
    for k in (2, 1, 0):
        q = q * s + Q[k]
    r = (p * c) / q
    one = np.float32(1)
    r = np.where(r > one, one, np.where(r < -one, -one, r))
    if out is None:
        return r
    np.copyto(out, r)
    return out
