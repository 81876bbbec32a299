"""The plan runs a conv that only a max_pool reads (directly or through a relu) as one step that
pools each chunk of the conv's output while it is in cache (kernels/conv_pool.py). A user must
see nothing of it: predictions and training outputs equal the unfused kernels' bit for bit,
gradients to rounding (dW sums its chunks in another grouping), the finite-difference gradient
holds, and geometries that cannot fuse (a padded pool, an output the plan hands out) do not."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck import assert_close, numeric_grad
from netspec.executor import ParamStore
from netspec.executor.plan import Plan, _pass_forward
from netspec.kernels import conv_pool
from shape_helpers import build

CASES = {
    # plain columns (fewer column rows than filters), relu between, the usual 2x2 pool
    "1 channel, relu, 2x2": ([{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
                              {"type": "max_pool2d", "pool_size": 2}], [1, 8, 8]),
    # wide rows, no relu, a pool whose windows overlap and miss the last row
    "wide rows, overlapping 3x3 stride 2": ([{"type": "conv2d", "filters": 2, "kernel_size": 3},
                                             {"type": "max_pool2d", "pool_size": 3, "strides": 2}], [3, 9, 9]),
    "strided conv, relu layer": ([{"type": "conv2d", "filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
                                  {"type": "activation", "function": "relu"},
                                  {"type": "max_pool2d", "pool_size": 2}], [2, 11, 11]),
    "conv1d, pool1d": ([{"type": "conv1d", "filters": 3, "kernel_size": 3, "activation": "relu"},
                        {"type": "max_pool1d", "pool_size": 2}], [4, 13]),
}  # fmt: skip


def _plan(layers, shape, seed=0):
    graph = build(shape, *layers, {"type": "flatten"}, {"type": "dense", "units": 2}).graph
    store = ParamStore.create(graph, np.float64, np.random.default_rng(seed))
    for v in store.values.values():  # integer-valued weights and inputs: ties and exact zeros
        v[...] = np.round(v * 4) + 1
    return Plan(graph, store)


def _fused_steps(plan: Plan) -> list[str]:
    return [st.node.name for st in plan.steps if st.node.op == "conv" and st.train_forward is not st.forward]


def _unfused(plan: Plan) -> Plan:
    """The plan with each conv and max_pool running its own kernels again (the relu commute kept)."""
    by_name = {st.node.name: st for st in plan.steps}
    for st in plan.steps:
        if st.node.op == "conv":
            st.train_forward, st.train_backward, st.infer_forward = st.forward, st.backward, st.forward
        elif st.node.op == "max_pool":
            st.train_forward, st.train_backward, st.infer_forward = st.forward, st.backward, st.forward
            src = by_name.get(st.node.inputs[0])
            st.train_ctx.relu_output = st.infer_ctx.relu_output = src is not None and src.node.op == "relu"
    return plan


@pytest.fixture(params=[None, 64], ids=["one chunk", "a sample or two per chunk"])
def budget(request, monkeypatch):
    if request.param is not None:  # bytes of conv output per chunk: forces many chunks and a short last one
        monkeypatch.setattr(conv_pool, "OUT_BUDGET", request.param)
    return request.param


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fused_conv_pool_trains_and_predicts_as_the_kernels_do(case, budget):
    layers, shape = case
    x = np.random.default_rng(1).integers(-2, 3, (7, *shape)).astype(np.float64)
    dy = np.random.default_rng(2).standard_normal((7, 2))
    fused = _plan(layers, shape)
    assert _fused_steps(fused) and not any(st.infer_forward is st.forward for st in fused.steps if st.node.op == "max_pool")
    results = []
    for plan in (fused, _unfused(_plan(layers, shape))):
        out = plan.forward_train(x, np.random.default_rng(0)).copy()
        plan.backward(dy)
        results.append((out, plan.store.grad.copy(), plan.predict(x).copy(), plan.predict(x[:3]).copy()))
    (out, grad, pred, part), (want_out, want_grad, want_pred, want_part) = results
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(pred, want_pred)
    np.testing.assert_array_equal(part, want_part)  # a smaller batch on the reused buffers
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-12)
    if budget is None:  # one chunk: the same sums in the same order
        np.testing.assert_array_equal(grad, want_grad)


@pytest.mark.parametrize("case", [CASES["1 channel, relu, 2x2"], CASES["wide rows, overlapping 3x3 stride 2"]],
                         ids=["plain columns", "wide rows"])  # fmt: skip
def test_fused_conv_pool_gradient_matches_finite_differences(case, budget):
    layers, shape = case
    plan = _plan(layers, shape, seed=3)
    for v in plan.store.values.values():  # smooth values: no ties for the differences to cross
        v[...] = np.random.default_rng(4).standard_normal(v.shape)
    assert _fused_steps(plan)
    x = np.random.default_rng(5).standard_normal((3, *shape))
    w = np.random.default_rng(6).standard_normal((3, 2))

    def loss() -> float:
        return float((plan.forward_train(x, np.random.default_rng(0)) * w).sum())

    loss()
    plan.backward(w)
    analytic = plan.store.grad.copy()
    assert_close(numeric_grad(loss, plan.store.flat), analytic, "fused conv -> max_pool parameters")


def test_fused_conv_pool_bias_without_weight_gradient():
    """A frozen kernel with a trainable bias (no dW GEMM to carry it): the bias gradient still
    comes out, from the pool's gradient assembled over the chunks."""
    layers, shape = CASES["wide rows, overlapping 3x3 stride 2"]
    plan = _plan(layers, shape)
    conv = next(st for st in plan.steps if st.node.op == "conv")
    pool_attrs = next(st for st in plan.steps if st.node.op == "max_pool").node.attrs
    x = np.random.default_rng(7).standard_normal((5, *shape))
    kernels = conv_pool.ConvPool(pool_attrs, relu=False)
    y, cache = kernels.forward(conv.node.attrs, [x], conv.params, conv.train_ctx)
    dy = np.random.default_rng(8).standard_normal(y.shape)
    grads = {"bias": np.zeros_like(conv.params["bias"])}
    kernels.backward(conv.node.attrs, dy, cache, conv.params, grads, [False], conv.train_ctx)
    from netspec.kernels import conv as conv_kernels
    from netspec.kernels import pool as pool_kernels
    from netspec.kernels.registry import RunContext

    ctx = RunContext(training=True)
    cy, ccache = conv_kernels.forward(conv.node.attrs, [x], conv.params, ctx)
    py, pcache = pool_kernels.max_forward(pool_attrs, [cy], {}, ctx)
    np.testing.assert_array_equal(y, py)
    dconv = pool_kernels.max_backward(pool_attrs, dy, pcache, {}, {}, [True], ctx)[0]
    want = {"bias": np.zeros_like(grads["bias"])}
    conv_kernels.backward(conv.node.attrs, dconv, ccache, conv.params, want, [False], ctx)
    np.testing.assert_allclose(grads["bias"], want["bias"], rtol=1e-12, atol=1e-12)


def test_large_inference_batches_fuse_without_a_workspace():
    """Inference batches above Plan.INFER_REUSE_ROWS run with no scratch workspace at all."""
    layers, shape = CASES["1 channel, relu, 2x2"]
    x = np.random.default_rng(9).integers(-2, 3, (Plan.INFER_REUSE_ROWS + 5, *shape)).astype(np.float64)
    want = _unfused(_plan(layers, shape)).predict(x)
    np.testing.assert_array_equal(_plan(layers, shape).predict(x), want)


def test_what_cannot_fuse_runs_the_kernels():
    padded = [{"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "relu"},
              {"type": "max_pool2d", "pool_size": 3, "strides": 2, "padding": "same"}]  # fmt: skip
    assert not _fused_steps(_plan(padded, [2, 8, 8]))
    # the pool's output is the model's output: the plan hands it out, so it must be a fresh array
    graph = build([2, 8, 8], {"type": "conv2d", "filters": 2, "kernel_size": 3}, {"type": "max_pool2d", "pool_size": 2}).graph
    plan = Plan(graph, ParamStore.create(graph, np.float64, np.random.default_rng(0)))
    assert all(st.infer_forward is not _pass_forward and st.train_forward is st.forward for st in plan.steps)
