"""The plan fuses work the graph keeps apart (at inference a conv's or dense's following relu,
the lstm's input projection and bias in its recurrent GEMM; in training and inference a relu in
front of a max_pool);
what a user sees must not change: `Model.predict` gives the training-mode forward's outputs
(no dropout or batch norm here, so the two modes compute the same function) on every conv
geometry and on an lstm, and the relu moved behind a pool trains bit-identically."""

from __future__ import annotations

import numpy as np
import pytest

from netspec.executor import ParamStore
from netspec.executor.plan import Plan
from shape_helpers import build


def _plan(layers, input_shape, seed=0, **kwargs):
    graph = build(input_shape, *layers, **kwargs).graph
    store = ParamStore.create(graph, np.float64, np.random.default_rng(seed))
    for v in store.values.values():  # nonzero biases, so a lost bias would show
        v += 0.1
    return Plan(graph, store)


CONVS = {
    "3x3 same": {"kernel_size": 3, "padding": "same"},
    "3x3 valid dilated": {"kernel_size": 3, "dilation": 2},
    "strided": {"kernel_size": 3, "strides": 2, "padding": "same"},
    "no bias": {"kernel_size": 3, "use_bias": False},
}


@pytest.mark.parametrize("conv", CONVS.values(), ids=CONVS.keys())
def test_conv_relu_inference_matches_the_training_forward(conv):
    layers = [{"type": "conv2d", "filters": 4, "activation": "relu", **conv},
              {"type": "conv2d", "filters": 3, "kernel_size": 3, "activation": "relu"},
              {"type": "flatten"}, {"type": "dense", "units": 2}]  # fmt: skip
    plan = _plan(layers, [2, 9, 9])
    x = np.random.default_rng(1).standard_normal((5, 2, 9, 9))
    want = plan.forward_train(x, np.random.default_rng(0)).copy()
    np.testing.assert_allclose(plan.predict(x), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plan.predict(x[:2]), want[:2], rtol=1e-12, atol=1e-12)  # reused buffers


@pytest.mark.parametrize("seq", [False, True])
def test_lstm_inference_matches_the_training_forward(seq):
    plan = _plan([{"type": "lstm", "units": 5, "return_sequences": seq}, {"type": "dense", "units": 2}], [7, 3])
    x = np.random.default_rng(2).standard_normal((4, 7, 3))
    lengths = np.array([7, 3, 5, 1])
    for lens in (None, lengths):
        want = plan.forward_train(x, np.random.default_rng(0), lens).copy()
        np.testing.assert_allclose(plan.predict(x, lens), want, rtol=1e-12, atol=1e-12)


def _unfused(plan: Plan) -> Plan:
    """The same plan with every step running its own kernels in training."""
    for st in plan.steps:
        st.train_forward, st.train_backward = st.forward, st.backward
        st.train_ctx.relu_output = False
    return plan


POOLED = {
    "conv relu, 2x2 pool": ([{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
                             {"type": "max_pool2d", "pool_size": 2}], [2, 8, 8]),
    "relu layer, overlapping padded pool": ([{"type": "conv2d", "filters": 3, "kernel_size": 2},
                                             {"type": "activation", "function": "relu"},
                                             {"type": "max_pool2d", "pool_size": 3, "strides": 2, "padding": "same"}], [2, 8, 8]),
    "conv1d relu, pool1d": ([{"type": "conv1d", "filters": 3, "kernel_size": 3, "activation": "relu"},
                             {"type": "max_pool1d", "pool_size": 2}], [2, 11]),
}  # fmt: skip


@pytest.mark.parametrize("case", POOLED.values(), ids=POOLED.keys())
def test_relu_behind_max_pool_trains_bit_identically(case):
    """Training applies a relu read only by a max_pool after the pool (k^2 fewer elements).
    Inputs of small integers make ties, exact zeros and all-negative windows common: outputs
    and every parameter gradient must equal the unfused kernels' bit for bit."""
    layers, shape = case
    layers = [*layers, {"type": "flatten"}, {"type": "dense", "units": 2}]
    x = np.random.default_rng(3).integers(-2, 3, (6, *shape)).astype(np.float64)
    results = []
    for plan in (_plan(layers, shape), _unfused(_plan(layers, shape))):
        for v in plan.store.values.values():  # integer-valued weights keep the ties exact
            v[...] = np.round(v * 4)
        out = plan.forward_train(x, np.random.default_rng(0)).copy()
        plan.backward(np.random.default_rng(4).standard_normal(out.shape))
        results.append((out, plan.store.grad.copy()))
    assert any(st.train_ctx.relu_output for st in _plan(layers, shape).steps)  # the fusion is on
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("case", POOLED.values(), ids=POOLED.keys())
def test_relu_behind_max_pool_predicts_the_training_forward(case):
    """Inference applies a relu read only by a max_pool after the pool too (and the pool takes
    the max over each window's rows first, recording nothing): on ties, zeros and all-negative
    windows the predictions equal the training forward's outputs bit for bit."""
    layers, shape = case
    plan = _plan([*layers, {"type": "flatten"}], shape)  # the pooled values themselves
    for v in plan.store.values.values():
        v[...] = np.round(v * 4)
    x = np.random.default_rng(3).integers(-2, 3, (6, *shape)).astype(np.float64)
    assert any(st.infer_ctx.relu_output for st in plan.steps if st.node.op == "max_pool")
    want = plan.forward_train(x, np.random.default_rng(0)).copy()
    np.testing.assert_array_equal(plan.predict(x), want)
    np.testing.assert_array_equal(plan.predict(x[:4]), want[:4])


def test_dense_relu_inference_matches_the_training_forward():
    layers = [{"type": "dense", "units": 6, "activation": "relu"}, {"type": "dense", "units": 5},
              {"type": "activation", "function": "relu"}, {"type": "dense", "units": 3, "activation": "softmax"}]  # fmt: skip
    plan = _plan(layers, [4], loss="cross_entropy")
    x = np.random.default_rng(6).standard_normal((9, 4)) * 3
    assert sum(st.infer_ctx.relu_output for st in plan.steps if st.node.op == "dense") == 2
    want = plan.forward_train(x, np.random.default_rng(0))
    e = np.exp(want - want.max(axis=1, keepdims=True))  # the loss takes logits; predict applies softmax
    np.testing.assert_allclose(plan.predict(x), e / e.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)


def test_dense_predictions_follow_every_change_of_the_bias():
    """At inference a dense layer adds a copy of its bias repeated over the rows (faster than
    the broadcast add) once the bias has been seen unchanged twice: predictions must follow
    the bias however it changes (an optimizer step, an in-place edit, a load), equal to a
    fresh plan's, on full and smaller batches."""
    layers = [{"type": "dense", "units": 6, "activation": "relu"}, {"type": "dense", "units": 3}]
    plan = _plan(layers, [4])
    x = np.random.default_rng(7).standard_normal((9, 4))

    def fresh():
        other = Plan(plan.graph, type(plan.store).create(plan.graph, np.float64, np.random.default_rng(0)))
        other.store.flat[:] = plan.store.flat
        return other.predict(x).copy()

    for change in (None, 0.5, -2.0, np.nan):
        if change is not None:
            plan.store.values["dense_1.bias"][2] += change  # same size, same place: only the values move
        want = fresh()
        for rows in (9, 9, 9, 4):  # the copy is made on the second call and used from the third
            np.testing.assert_array_equal(plan.predict(x[:rows]), want[:rows])


def test_the_repeated_bias_is_built_only_for_a_bias_that_holds_still():
    from netspec.kernels.registry import RunContext
    from netspec.kernels.workspace import repeated_rows

    ctx = RunContext(ws={})
    b = np.arange(3.0)
    assert repeated_rows(RunContext(), "b", b, 4) is None  # no workspace: direct kernel calls
    assert repeated_rows(ctx, "b", b, 4) is None  # seen once
    tile = repeated_rows(ctx, "b", b, 4)
    np.testing.assert_array_equal(tile, np.tile(b, (4, 1)))
    front = repeated_rows(ctx, "b", b, 2)  # a smaller batch: the front of the same copy
    assert front.shape == (2, 3) and np.shares_memory(front, tile)
    b[1] = 7.0
    assert repeated_rows(ctx, "b", b, 4) is None  # changed: the broadcast add until it holds still again
    np.testing.assert_array_equal(repeated_rows(ctx, "b", b, 4), np.tile(b, (4, 1)))
    for step in range(3):  # a bias that training moves every step never gets a copy
        b += 0.1
        assert repeated_rows(ctx, "b", b, 4) is None


def test_predictions_between_training_steps_change_nothing():
    """The plan keeps one mode's scratch buffers at a time (switching drops the other's): a
    prediction in the middle of a training step, or between steps, must leave the step's
    gradients and the predictions themselves exactly as without the switch."""
    layers = [{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
              {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 2}]  # fmt: skip
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((4, 2, 8, 8)) for _ in range(3)]
    probe = rng.standard_normal((7, 2, 8, 8))
    plain, mixed = _plan(layers, [2, 8, 8]), _plan(layers, [2, 8, 8])
    for x in xs:
        out = plain.forward_train(x, np.random.default_rng(0))
        plain.backward(np.ones_like(out))
        want_grad, want_pred = plain.store.grad.copy(), plain.predict(probe).copy()
        mixed.predict(probe[:3])
        out = mixed.forward_train(x, np.random.default_rng(0))
        mid = mixed.predict(probe)  # between the forward and the backward of one step
        mixed.backward(np.ones_like(out))
        np.testing.assert_array_equal(mixed.store.grad, want_grad)
        np.testing.assert_array_equal(mid, want_pred)
        np.testing.assert_array_equal(mixed.predict(probe), want_pred)


@pytest.mark.parametrize("layers", [[{"type": "flatten"}], [{"type": "dropout", "rate": 0.5}, {"type": "flatten"}]],
                         ids=["flatten", "dropout, flatten"])  # fmt: skip
def test_predict_never_hands_back_the_callers_array(layers):
    """A model with no layer of its own to write into passes its input on: Model.predict must
    still return a new array, so writing into the result leaves the caller's inputs alone."""
    import netspec

    compiled = build([2, 3], *layers)
    model = netspec.Model(compiled.spec, compiled, ParamStore.create(compiled.graph, np.float32, np.random.default_rng(0)))
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    out = model.predict(x)
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(out, x.reshape(2, 6))
