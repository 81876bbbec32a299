"""Central-difference gradient checking shared by the kernel gradient tests (float64).

Tolerance as DESIGN.md: |numeric - analytic| <= 1e-7 + 1e-6 * |analytic|, step 1e-5."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEP = 1e-5
ATOL, RTOL = 1e-7, 1e-6


def numeric_grad(f: Callable[[], float], arr: np.ndarray) -> np.ndarray:
    """d f / d arr by central differences, perturbing `arr` in place (restored after)."""
    g = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + STEP
        up = f()
        flat[i] = old - STEP
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * STEP)
    return g


def assert_close(num: np.ndarray, ana: np.ndarray, what: str) -> None:
    assert num.shape == ana.shape, f"{what}: shape {num.shape} vs {ana.shape}"
    err = np.abs(num - ana)
    bad = err > ATOL + RTOL * np.abs(ana)
    assert not bad.any(), f"{what}: max error {err.max():.3g} at {np.argwhere(bad)[:3].tolist()}"
