"""The worked backprop example: the 1-1-1 sigmoid network

    h1 = sigma(w10 + w11 * x),  h2 = sigma(w20 + w21 * h1),  L = (h2 - 1)^2

built from the dense and sigmoid kernels, checked against the closed-form derivatives

    dL/dw21 = 2(h2-1) h2(1-h2) h1          dL/dw20 = 2(h2-1) h2(1-h2)
    dL/dw11 = 2(h2-1) h2(1-h2) w21 h1(1-h1) x
    dL/dw10 = 2(h2-1) h2(1-h2) w21 h1(1-h1)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netspec.kernels.registry import RunContext, get_op
from netspec.training.losses import mse

ATTRS = {"units": 1, "use_bias": True, "init": "glorot_uniform"}


def sigma(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def closed_form(x: float, w10: float, w11: float, w20: float, w21: float) -> dict[str, float]:
    h1 = sigma(w10 + w11 * x)
    h2 = sigma(w20 + w21 * h1)
    d2 = 2 * (h2 - 1) * h2 * (1 - h2)
    d1 = d2 * w21 * h1 * (1 - h1)
    return {"loss": (h2 - 1) ** 2, "w10": d1, "w11": d1 * x, "w20": d2, "w21": d2 * h1}


def run_network(xs: np.ndarray, w10, w11, w20, w21, dtype) -> dict[str, float]:
    """Forward through dense, sigmoid, dense, sigmoid; mse against 1; backward in reverse."""
    dense, sig = get_op("dense"), get_op("sigmoid")
    ctx = RunContext(training=True, dtype=dtype)
    p1 = {"weight": np.array([[w11]], dtype), "bias": np.array([w10], dtype)}
    p2 = {"weight": np.array([[w21]], dtype), "bias": np.array([w20], dtype)}
    x = xs.astype(dtype).reshape(-1, 1)

    z1, c1 = dense.forward(ATTRS, [x], p1, ctx)
    h1, s1 = sig.forward({}, [z1], {}, ctx)
    z2, c2 = dense.forward(ATTRS, [h1], p2, ctx)
    h2, s2 = sig.forward({}, [z2], {}, ctx)
    loss, dh2 = mse(h2, np.ones_like(h2))

    g1 = {k: np.empty_like(v) for k, v in p1.items()}
    g2 = {k: np.empty_like(v) for k, v in p2.items()}
    (dz2,) = sig.backward({}, dh2, s2, {}, {}, [True], ctx)
    (dh1,) = dense.backward(ATTRS, dz2, c2, p2, g2, [True], ctx)
    (dz1,) = sig.backward({}, dh1, s1, {}, {}, [True], ctx)
    (dx,) = dense.backward(ATTRS, dz1, c1, p1, g1, [False], ctx)
    assert dx is None
    for g in (*g1.values(), *g2.values()):
        assert g.dtype == dtype
    return {
        "loss": loss,
        "w10": float(g1["bias"][0]),
        "w11": float(g1["weight"][0, 0]),
        "w20": float(g2["bias"][0]),
        "w21": float(g2["weight"][0, 0]),
    }


WEIGHTS = [(0.1, 0.5, -0.3, 0.8), (1.0, -2.0, 0.5, 1.5), (-0.7, 0.2, 2.0, -1.1)]


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("x", [0.0, 1.0, -2.5])
def test_single_sample_matches_closed_form(w, x):
    got = run_network(np.array([x]), *w, dtype=np.float64)
    want = closed_form(x, *w)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("w", WEIGHTS)
def test_batch_is_the_mean_of_samples(w):
    """mse takes the mean over the batch, so each gradient is the mean of per-sample ones."""
    xs = np.array([0.3, -1.2, 2.0, 0.0, 0.7])
    got = run_network(xs, *w, dtype=np.float64)
    per_sample = [closed_form(float(x), *w) for x in xs]
    for key in got:
        want = sum(s[key] for s in per_sample) / len(xs)
        assert got[key] == pytest.approx(want, rel=1e-12, abs=1e-15), key


def test_float32_agrees_with_closed_form():
    w = WEIGHTS[1]
    got = run_network(np.array([0.8]), *w, dtype=np.float32)
    want = closed_form(0.8, *w)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), key


def test_one_gradient_step_lowers_the_loss():
    w = dict(zip(("w10", "w11", "w20", "w21"), WEIGHTS[0]))
    before = run_network(np.array([1.0]), **w, dtype=np.float64)
    stepped = {k: v - 0.5 * before[k] for k, v in w.items()}
    after = run_network(np.array([1.0]), **stepped, dtype=np.float64)
    assert after["loss"] < before["loss"]
