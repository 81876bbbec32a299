"""Sequence models as whole graphs: encoder -> state -> decoder gradients through the executor
(float64, with lengths on the encoder only), initial_state errors located on the key, dense /
activations / dropout applied per step on (batch, time, features), and loss masks per axis."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import assert_close, numeric_grad
from shape_helpers import B, build, out_shape

from netspec.errors import SpecError
from netspec.executor import ParamStore, Plan

ENC_DEC = [
    {"type": "lstm", "name": "enc", "units": 3},
    {"type": "repeat", "length": 4},
    {"type": "lstm", "units": 3, "return_sequences": True, "initial_state": "enc"},
    {"type": "gru", "units": 2, "return_sequences": True, "bidirectional": True},
    {"type": "dense", "units": 2},
]


def test_encoder_decoder_gradients_through_the_plan():
    graph = build(["time", 2], *ENC_DEC).graph
    assert [n.name for n in graph.nodes][:3] == ["enc.state", "enc", "repeat_1"]
    assert out_shape(build(["time", 2], *ENC_DEC)) == (B, 4, 2)
    rng = np.random.default_rng(0)
    store = ParamStore.create(graph, np.float64, rng)
    store.flat[:] = rng.normal(0, 0.5, store.flat.size)
    plan = Plan(graph, store)
    x = rng.normal(size=(3, 5, 2))
    lengths = np.array([5, 2, 3])
    w = rng.normal(size=(3, 4, 2))

    def loss():
        return float((plan.forward_train(x, np.random.default_rng(0), lengths) * w).sum())

    loss()
    plan.backward(w)
    analytic = store.grad.copy()
    assert_close(numeric_grad(loss, store.flat), analytic, "encoder-decoder parameters")


@pytest.mark.parametrize("layer,message", [
    ({"type": "lstm", "units": 3, "initial_state": "encx"}, 'no layer named "encx"; did you mean "enc"?'),
    ({"type": "gru", "units": 3, "initial_state": "enc"}, "`enc` is a lstm with 3 units, but this gru"),
    ({"type": "lstm", "units": 5, "initial_state": "enc"}, "must be a lstm with 5 units"),
    ({"type": "lstm", "units": 3, "initial_state": "enc", "bidirectional": True}, "one-directional"),
])  # fmt: skip
def test_initial_state_errors_are_located(layer, message):
    with pytest.raises(SpecError) as info:
        build(["time", 2], {"type": "lstm", "name": "enc", "units": 3}, {"type": "repeat", "length": 2}, layer)
    d = info.value.diagnostics[0]
    assert message in d.message and d.path == ("model", "layers", 2, "initial_state")


def test_dense_activation_dropout_apply_per_step():
    """On (batch, time, features) each step is transformed alone: step t of the output depends
    only on step t of the input (dropout is the identity at inference)."""
    c = build(["time", 3], {"type": "dense", "units": 4, "activation": "tanh"}, {"type": "dropout", "rate": 0.5},
              {"type": "activation", "function": "softmax"}, {"type": "dense", "units": 2})  # fmt: skip
    assert out_shape(c) == (B, "time", 2)
    assert all(n.time_axis == "input.time" for n in c.graph.nodes)
    store = ParamStore.create(c.graph, np.float64, np.random.default_rng(1))
    plan = Plan(c.graph, store)
    x = np.random.default_rng(2).normal(size=(2, 6, 3))
    whole = plan.predict(x)
    for t in range(6):
        np.testing.assert_allclose(plan.predict(x[:, t : t + 1])[:, 0], whole[:, t], atol=1e-12)
    y = plan.forward_train(x, np.random.default_rng(3))  # training: one dropout mask per element
    assert y.shape == (2, 6, 2)


def test_loss_masks_follow_the_axis():
    """Input-axis outputs use lengths; a decoder's own axis uses target lengths, never lengths."""
    same = Plan(build(["time", 2], {"type": "gru", "units": 2, "return_sequences": True}).graph,
                ParamStore.create(build(["time", 2], {"type": "gru", "units": 2, "return_sequences": True}).graph, np.float32, None))  # fmt: skip
    assert same.loss_mask(np.array([2, 3]), 3).tolist() == [[True, True, False], [True, True, True]]
    g = build(["time", 2], *ENC_DEC).graph
    dec = Plan(g, ParamStore.create(g, np.float32, None))
    assert dec.loss_mask(np.array([5, 1]), 4) is None  # input lengths say nothing about output steps
    assert dec.loss_mask(np.array([5, 1]), 4, np.array([4, 2])).tolist() == [[True] * 4, [True, True, False, False]]


def _spec_with_data(data: dict, layers: list):
    from netspec.spec import Spec

    return Spec.model_validate({"name": "t", "data": {"path": "d.npz", "target": "y", **data},
                                "model": {"input_shape": ["time", 2], "layers": layers},
                                "train": {"epochs": 1, "loss": "mse"}})  # fmt: skip


@pytest.mark.parametrize("data,layers,message", [
    ({"target_lengths_key": "tl"}, [{"type": "gru", "units": 2, "return_sequences": True}], "its time axis is the input's"),
    ({"target_lengths_key": "tl"}, [{"type": "gru", "units": 2}], "it has no time axis"),
    ({"target_lengths_key": "tl", "path": "d.csv"}, ENC_DEC, "data.path is not .npz"),
])  # fmt: skip
def test_target_lengths_key_errors(data, layers, message):
    from netspec.compiler import compile_spec

    with pytest.raises(SpecError) as info:
        compile_spec(_spec_with_data(data, layers))
    d = info.value.diagnostics[0]
    assert message in d.message and d.path == ("data", "target_lengths_key")


def test_a_reshaped_decoder_axis_gets_no_lengths():
    """The issue's encoder over <= 7 steps -> reshape to a 4-step decoder: lengths reach the
    encoder alone (they used to reach the decoder too: exit 4, or its late steps zeroed)."""
    c = build(["time", 2], {"type": "lstm", "units": 8}, {"type": "reshape", "shape": [4, 2]},
              {"type": "lstm", "units": 3, "return_sequences": True})  # fmt: skip
    assert [c.graph.takes_lengths(n) for n in c.graph.nodes] == [True, False, False]
    plan = Plan(c.graph, ParamStore.create(c.graph, np.float64, np.random.default_rng(0)))
    y = plan.predict(np.random.default_rng(1).normal(size=(2, 7, 2)), np.array([7, 2]))
    assert y.shape == (2, 4, 3) and np.all(np.abs(y[1, 2:]) > 0)
