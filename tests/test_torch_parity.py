"""Training parity with PyTorch: same initial weights and batches, a few optimizer steps; losses
and weights agree to float32 tolerance (SGD with momentum/nesterov, Adam, RMSprop, L2, clipping,
batch norm)."""

from __future__ import annotations

import numpy as np
import pytest

from netspec.compiler import compile_spec
from netspec.executor import ParamStore, Plan
from netspec.spec import positions, validate_data
from netspec.training.loop import Trainer, rng_tree

torch = pytest.importorskip("torch")


def build(optimizer: dict, extra_train: dict | None = None, batch_norm: bool = False, loss: str = "cross_entropy"):
    layers = [{"type": "dense", "name": "h", "units": 16, "activation": "relu"}]
    if batch_norm:
        layers.append({"type": "batch_norm", "name": "bn"})
    out_units, act = (3, "softmax") if loss == "cross_entropy" else ((1, "sigmoid") if loss == "binary_cross_entropy" else (2, "identity"))
    layers.append({"type": "dense", "name": "out", "units": out_units, "activation": act})
    doc = {"name": "parity", "model": {"input_shape": [5], "layers": layers},
           "train": {"epochs": 1, "loss": loss, "batch_size": 8, "optimizer": optimizer, **(extra_train or {})}}  # fmt: skip
    spec = validate_data(doc, positions.SourceMap("p.toml"))
    graph = compile_spec(spec).graph
    store = ParamStore.create(graph, np.float32, rng_tree(0)["init"], spec.train.l1, spec.train.l2)
    trainer = Trainer(Plan(graph, store), spec.train, seed=0, epochs=1, task=spec.train.task)
    return spec, store, trainer


def torch_model(store, batch_norm: bool, out_units: int):
    layers = [torch.nn.Linear(5, 16), torch.nn.ReLU()]
    if batch_norm:
        layers.append(torch.nn.BatchNorm1d(16, momentum=0.1, eps=1e-5))
    layers.append(torch.nn.Linear(16, out_units))
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(store.values["h.weight"].T.copy()))
        model[0].bias.copy_(torch.from_numpy(store.values["h.bias"].copy()))
        model[-1].weight.copy_(torch.from_numpy(store.values["out.weight"].T.copy()))
        model[-1].bias.copy_(torch.from_numpy(store.values["out.bias"].copy()))
    return model


CASES = [
    ({"type": "sgd", "learning_rate": 0.1}, {}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}, {}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, {},
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ({"type": "adam", "learning_rate": 0.01}, {}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ({"type": "rmsprop", "learning_rate": 0.01, "momentum": 0.5}, {},
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, eps=1e-8)),
    # netspec's l2 penalty is l2 * sum(w^2) on weights only: gradient 2 * l2 * w
    ({"type": "sgd", "learning_rate": 0.1}, {"l2": 0.01}, "l2"),
    ({"type": "sgd", "learning_rate": 0.1}, {"clip_norm": 0.05}, "clip_norm"),
    ({"type": "sgd", "learning_rate": 0.1}, {"clip_value": 0.01}, "clip_value"),
]


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "mse"])
@pytest.mark.parametrize(("opt", "extra", "make"), CASES)
def test_steps_match_pytorch(opt, extra, make, loss):
    batch_norm = opt["type"] == "adam"
    spec, store, trainer = build(opt, extra, batch_norm=batch_norm, loss=loss)
    out_units = store.values["out.bias"].shape[0]
    model = torch_model(store, batch_norm, out_units)
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.1) if isinstance(make, str) else make(model.parameters())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    if loss == "cross_entropy":
        y = rng.integers(0, 3, 40)
        loss_fn = torch.nn.CrossEntropyLoss()
        ty = torch.from_numpy(y)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (40, 1)).astype(np.float32)
        loss_fn, ty = torch.nn.BCEWithLogitsLoss(), torch.from_numpy(y)
    else:
        y = rng.standard_normal((40, 2)).astype(np.float32)
        loss_fn, ty = torch.nn.MSELoss(), torch.from_numpy(y)
    weights = [model[0].weight, model[-1].weight]
    for k, i in enumerate(range(0, 40, 8)):
        ours = trainer._step(x[i : i + 8], y[i : i + 8], opt["learning_rate"], 1, k + 1)
        torch_opt.zero_grad()
        theirs = loss_fn(model(torch.from_numpy(x[i : i + 8])), ty[i : i + 8])
        data_loss = theirs.item()
        if make == "l2":
            theirs = theirs + extra["l2"] * sum((w**2).sum() for w in weights)
        theirs.backward()
        if make == "clip_norm":
            torch.nn.utils.clip_grad_norm_(model.parameters(), extra["clip_norm"])
        if make == "clip_value":
            torch.nn.utils.clip_grad_value_(model.parameters(), extra["clip_value"])
        torch_opt.step()
        assert ours == pytest.approx(data_loss, rel=1e-4, abs=1e-6), f"step {k}"
    np.testing.assert_allclose(store.values["h.weight"], model[0].weight.detach().numpy().T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(store.values["out.bias"], model[-1].bias.detach().numpy(), rtol=1e-4, atol=1e-5)
    if batch_norm:
        np.testing.assert_allclose(store.values["bn.running_mean"], model[2].running_mean.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(store.values["bn.gamma"], model[2].weight.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_per_layer_penalties_add_to_global_ones_on_weights_only():
    from netspec.compiler import compile_spec
    from netspec.spec import positions, validate_data
    from netspec.training.regularize import add_penalty_grads

    doc = {"name": "pen", "model": {"input_shape": [5], "layers": [
        {"type": "dense", "name": "a", "units": 4, "l2": 0.5, "l1": 0.1}, {"type": "dense", "name": "b", "units": 2}]},
        "train": {"epochs": 1, "loss": "mse", "l2": 0.25}}  # fmt: skip
    spec = validate_data(doc, positions.SourceMap("x.toml"))
    graph = compile_spec(spec).graph
    ps = ParamStore.create(graph, np.float64, np.random.default_rng(0), spec.train.l1, spec.train.l2)
    ps.grad[...] = 0
    add_penalty_grads(ps.flat, ps.grad, ps.l1, ps.l2, np.empty_like(ps.flat))
    w_a, w_b = ps.values["a.weight"], ps.values["b.weight"]
    np.testing.assert_allclose(ps.grads["a.weight"], 2 * 0.75 * w_a + 0.1 * np.sign(w_a))
    np.testing.assert_allclose(ps.grads["b.weight"], 2 * 0.25 * w_b)
    assert not ps.grads["a.bias"].any() and not ps.grads["b.bias"].any()
