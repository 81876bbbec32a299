"""Model.activations and Model.input_gradient: intermediate outputs as predict computes them, and
input gradients checked against float64 central differences and PyTorch autograd."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gradcheck import assert_close, numeric_grad
from inspect_helpers import CNN_LAYERS, random_model, write_spec

from netspec.errors import NetspecError

LSTM_SPEC = """name = "seq"
[model]
input_shape = [7, 3]
[[model.layers]]
type = "lstm"
name = "lstm"
units = 5
return_sequences = true
[[model.layers]]
type = "rnn"
name = "rnn"
units = 4
[[model.layers]]
type = "dense"
name = "output"
units = 2
[train]
epochs = 1
loss = "mse"
dtype = "float64"
"""


@pytest.fixture
def cnn64(tmp_path):
    return random_model(write_spec(tmp_path, CNN_LAYERS, dtype="float64"))


def test_activations_name_every_layer_and_end_in_the_prediction(cnn64):
    x = np.random.default_rng(0).normal(size=(3, 1, 8, 8))
    acts = cnn64.activations(x)
    assert list(acts) == ["conv1", "bn", "pool1", "conv2", "flatten_1", "dropout_1", "output"]
    assert acts["pool1"].shape == (3, 4, 4, 4) and acts["conv2"].shape == (3, 6, 2, 2)
    np.testing.assert_array_equal(acts["output"], cnn64.predict(x, raw=False))
    only = cnn64.activations(x, layers=["conv1.pre", "pool1"])
    assert list(only) == ["conv1.pre", "pool1"]
    np.testing.assert_allclose(np.tanh(only["conv1.pre"]), acts["conv1"])
    with pytest.raises(NetspecError, match="no layer named 'pool2'"):
        cnn64.activations(x, layers=["pool2"])


@pytest.mark.parametrize("layer, unit", [(None, 3), ("conv2", 1), ("conv1", (2, 3, 4)), ("bn", 0)])
def test_input_gradient_matches_central_differences(cnn64, layer, unit):
    x = np.random.default_rng(1).normal(size=(2, 1, 8, 8))
    name = layer or "output"
    ana = cnn64.input_gradient(x, unit=unit, layer=layer)

    def objective() -> float:
        y = cnn64.activations(x, layers=[name])[name]
        part = y[:, unit] if isinstance(unit, int) else y[(slice(None), *unit)]
        return float(part.reshape(len(x), -1).mean(axis=1).sum())

    assert_close(numeric_grad(objective, x), ana, f"d {name}[{unit}] / d input")


def test_input_gradient_through_recurrent_layers(tmp_path):
    (tmp_path / "seq.toml").write_text(LSTM_SPEC)
    model = random_model(tmp_path / "seq.toml")
    x = np.random.default_rng(2).normal(size=(2, 7, 3))
    for layer, unit in ((None, 1), ("lstm", 2), ("lstm", (6, 4))):
        name = layer or "output"
        ana = model.input_gradient(x, unit=unit, layer=layer)

        def objective() -> float:
            y = model.activations(x, layers=[name])[name]
            part = y[..., unit] if isinstance(unit, int) else y[(slice(None), *unit)]
            return float(part.reshape(len(x), -1).mean(axis=1).sum())

        assert_close(numeric_grad(objective, x), ana, f"d {name}[{unit}] / d input")


def test_input_gradient_leaves_the_training_gradients_alone(cnn64):
    cnn64.store.grad[:] = 7.0
    cnn64.input_gradient(np.ones((1, 1, 8, 8)), unit=0, layer="conv2")
    assert (cnn64.store.grad == 7.0).all()
    with pytest.raises(NetspecError, match="out of range: this layer has 6 units"):
        cnn64.input_gradient(np.ones((1, 1, 8, 8)), unit=6, layer="conv2")


def test_input_gradient_matches_pytorch_autograd(tmp_path):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from torch_graph import TorchGraph

    model = random_model(write_spec(tmp_path, CNN_LAYERS))  # float32, as training runs
    x = np.random.default_rng(3).normal(size=(4, 1, 8, 8)).astype(np.float32)
    net = TorchGraph(model.graph)
    net.load_netspec(model.store.values)
    net.eval()
    xt = torch.from_numpy(x).requires_grad_(True)
    net.outputs(net(xt))[:, 5].sum().backward()
    np.testing.assert_allclose(model.input_gradient(x, unit=5), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
