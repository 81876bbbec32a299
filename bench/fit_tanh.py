"""Fit the rational tanh that the compiled float32 LSTM cell uses (netspec/kernels/fast_tanh.py)
and check it in float32 arithmetic.

numpy's float32 tanh is a SIMD loop only on some CPUs: on an AVX2-only machine (numpy 2.4,
X86_V3) it ran ~3 ns a value (`--speed` below), and was most of an lstm_seq inference
batch. A rational x P(x^2) / Q(x^2) is mul, add and one division, which a compiled loop runs
8 or 16 values at a time.

The fit: tanh(x) / x = P(u) / Q(u) on 0 < x <= CLAMP with u = (x / CLAMP)^2, degrees 4 and 4,
Q(0) = 1, by linearised least squares on the relative error (P - f Q) / (f Q_prev), with
Lawson's reweighting toward the minimax error; then the coefficients are rescaled to powers
of x^2 and rounded to float32. Beyond CLAMP = 9, tanh rounds to +-1 in float32.

    python bench/fit_tanh.py          # prints the coefficients and the float32 check
    python bench/fit_tanh.py --speed  # and what it is for: ns a value against numpy's tanh and
                                      # exp, the LSTM cell with z given apart, as G itself
                                      # (aliased) and in place, and this machine's GEMM peak
"""

from __future__ import annotations

import argparse
import sys
import timeit
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


def _best_s(fn, number: int = 200) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number


def speed() -> None:
    """1 BLAS thread, best of 7; float32 throughout."""
    from threadpoolctl import threadpool_limits

    from netspec.kernels import compiled

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 128)) * 3).astype(np.float32)
    out = np.empty_like(x)
    with threadpool_limits(1):
        for name, fn in (("numpy tanh", np.tanh), ("numpy exp", np.exp)):
            print(f"{name:28s} {_best_s(lambda fn=fn: fn(x, out=out)) / x.size * 1e9:6.2f} ns a value")
        if not compiled.enabled():
            print("the compiled loops are off (no Numba): no rational timings")
        else:
            loops, cell = compiled._module("tanh_loops"), compiled.lstm_loops()
            a = x.copy()
            loops.tanh_cols(a, 0, a.shape[1])
            print(f"{'rational, compiled':28s} {_best_s(lambda: loops.tanh_cols(a, 0, a.shape[1])) / a.size * 1e9:6.2f}"
                  " ns a value")  # fmt: skip
            m, half = 16_384, np.float32(0.5)
            G, CY = (rng.standard_normal((k, m)).astype(np.float32) for k in (4, 2))
            z = G.copy()
            c, tc, h = (np.empty(m, np.float32) for _ in range(3))
            runs = {"z apart": lambda: cell.cell_forward(z, G, CY, 0, m, c, tc, h, half),
                    "z is G, aliased": lambda: cell.cell_forward(G, G, CY, 0, m, c, tc, h, half),
                    "z is G, in-place loop": lambda: cell.cell_forward_inplace(G, CY, 0, m, c, tc, h, half)}  # fmt: skip
            for name, fn in runs.items():
                fn()
                print(f"lstm cell, {m} values, {name:22s} {_best_s(fn, 50) * 1e6:7.1f} us")
        g = rng.standard_normal((1024, 1024)).astype(np.float32)
        prod = np.empty_like(g)
        t = _best_s(lambda: np.matmul(g, g, out=prod), 5)
        print(f"{'GEMM 1024 x 1024, 1 thread':28s} {2 * 1024**3 / t / 1e9:6.1f} GFLOP/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", action="store_true", help="also time the rational against numpy's tanh")
    args = ap.parse_args()
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
    if args.speed:
        speed()


if __name__ == "__main__":
    main()
