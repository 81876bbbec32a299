"""Fit the rational tanh that the compiled float32 LSTM cell uses (netspec/kernels/fast_tanh.py)
and check it in float32 arithmetic.

numpy's float32 tanh is a SIMD loop only on some CPUs: on an AVX2-only machine (numpy 2.4,
X86_V3) it ran at 0.37 G values/s, ~2.7 ns a value, and was most of an lstm_seq inference
batch. A rational x P(x^2) / Q(x^2) is mul, add and one division, which a compiled loop runs
8 or 16 values at a time.

The fit: tanh(x) / x = P(u) / Q(u) on 0 < x <= CLAMP with u = (x / CLAMP)^2, degrees 4 and 4,
Q(0) = 1, by linearised least squares on the relative error (P - f Q) / (f Q_prev), with
Lawson's reweighting toward the minimax error; then the coefficients are rescaled to powers
of x^2 and rounded to float32. Beyond CLAMP = 9, tanh rounds to +-1 in float32.

    python bench/fit_tanh.py          # prints the coefficients and the float32 check
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLAMP = 9.0
DEGREE = 4  # of P and of Q in x^2


def fit(iterations: int = 200) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([np.linspace(0, CLAMP, 60001)[1:], np.geomspace(1e-8, 1e-2, 500)])
    u = (x / CLAMP) ** 2
    f = np.tanh(x) / x
    n = DEGREE + 1
    q_prev, weight = np.ones_like(x), np.full_like(x, 1 / x.size)
    for _ in range(iterations):
        a = np.concatenate([np.stack([u**k for k in range(n)], 1), np.stack([-f * u**k for k in range(1, n)], 1)], 1)
        scale = np.sqrt(weight) / (f * q_prev)
        sol = np.linalg.lstsq(a * scale[:, None], f * scale, rcond=None)[0]
        p, q = sol[:n], np.concatenate([[1.0], sol[n:]])
        q_prev = np.polyval(q[::-1], u)
        err = np.abs(np.polyval(p[::-1], u) / q_prev / f - 1)
        weight = np.maximum(weight * err / (weight * err).sum(), 1e-12)
    powers = CLAMP ** (-2.0 * np.arange(n))  # coefficients of u^k -> of (x^2)^k
    return (p * powers).astype(np.float32), (q * powers).astype(np.float32)


def ulp_error(tanh32) -> tuple[float, float]:
    """Largest error in float32 ulps (of the correctly rounded result) over a dense sweep, and where."""
    x = np.concatenate([np.linspace(-12, 12, 4_000_001, dtype=np.float32),
                        np.geomspace(1e-38, 1, 200_000).astype(np.float32)])  # fmt: skip
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(tanh32(x).astype(np.float64) - exact) / ulp
    return float(err.max()), float(x[err.argmax()])


def main() -> None:
    from netspec.kernels import fast_tanh

    p, q = fit()
    print("P (x^0 .. x^8):", ", ".join(repr(float(c)) for c in p))
    print("Q (x^0 .. x^8):", ", ".join(repr(float(c)) for c in q))
    same = np.array_equal(p, fast_tanh.P) and np.array_equal(q, fast_tanh.Q)
    print("fast_tanh.py holds these:", same)
    worst, where = ulp_error(fast_tanh.reference)
    print(f"fast_tanh.reference: at most {worst:.1f} ulp from tanh (at x = {where:.6g})")
    worst, where = ulp_error(lambda x: np.tanh(x))
    print(f"numpy's float32 tanh: at most {worst:.1f} ulp")


if __name__ == "__main__":
    main()
