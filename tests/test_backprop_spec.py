"""The worked backpropagation example, end to end through spec -> IR -> plan:
f(x) = sigma(w20 + w21 * sigma(w10 + w11 * x)), loss (h2 - 1)^2, gradients vs the closed form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netspec.compiler import compile_spec
from netspec.executor import ParamStore, Plan
from netspec.spec import load_spec
from netspec.training.losses import LOSSES

SPECS = Path(__file__).resolve().parent.parent / "specs"


def sigma(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("x", [0.5, -1.0, 2.0])
def test_gradients_match_closed_form(x):
    spec = load_spec(SPECS / "backprop_111.toml")
    spec.train.dtype = "float64"
    graph = compile_spec(spec).graph
    store = ParamStore.create(graph, np.float64, None)
    w10, w11, w20, w21 = 0.1, -0.4, 0.3, 0.7
    store.values["h1.bias"][...] = w10
    store.values["h1.weight"][...] = w11
    store.values["h2.bias"][...] = w20
    store.values["h2.weight"][...] = w21
    plan = Plan(graph, store)
    out = plan.forward_train(np.array([[x]]), np.random.default_rng(0))
    loss, dout = LOSSES["mse"](out, np.array([[1.0]]))
    plan.backward(dout)

    h1 = sigma(w10 + w11 * x)
    h2 = sigma(w20 + w21 * h1)
    assert loss == pytest.approx((h2 - 1) ** 2, rel=1e-12)
    d2 = 2 * (h2 - 1) * h2 * (1 - h2)  # dL/d(pre-activation of h2)
    d1 = d2 * w21 * h1 * (1 - h1)  # dL/d(pre-activation of h1)
    expected = {"h2.bias": d2, "h2.weight": d2 * h1, "h1.bias": d1, "h1.weight": d1 * x}
    for name, value in expected.items():
        assert store.grads[name].item() == pytest.approx(value, rel=1e-10, abs=1e-14), name


def test_training_drives_the_output_towards_the_target(tmp_path, monkeypatch):
    import netspec

    monkeypatch.chdir(tmp_path)
    result = netspec.train(SPECS / "backprop_111.toml", save=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    out = result.model.predict(np.array([[0.5]], dtype=np.float32))
    assert out.item() > 0.8
