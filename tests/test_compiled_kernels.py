"""The compiled loops (kernels/compiled_loops.py) stand in for numpy code that moves data: conv
columns and col2im, max pooling and its gradient, padding. A user must not be able to tell
which path ran: every kernel output and gradient equals the numpy path's bit for bit, over the
geometries the loops special-case and the ones they do not, a whole training run ends with the
same weights, and NETSPEC_KERNELS=numpy or a missing Numba falls back to the numpy kernels."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from netspec.executor import ParamStore
from netspec.executor.plan import Plan
from netspec.kernels import compiled
from netspec.kernels.registry import RunContext, get_op
from netspec.kernels.windows import Window
from shape_helpers import build

pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (no Numba)")

CONVS = {
    "first layer, plain columns": ({"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same"}, [1, 9, 11]),
    "wide rows": ({"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same"}, [5, 8, 7]),
    "wide rows, stride 2 (phases)": ({"type": "conv2d", "filters": 3, "kernel_size": 3, "strides": 2}, [4, 11, 10]),
    "stride (2, 1), plain": ({"type": "conv2d", "filters": 8, "kernel_size": [3, 2], "strides": [2, 1]}, [2, 9, 9]),
    "dilation 2": ({"type": "conv2d", "filters": 2, "kernel_size": 3, "dilation": 2, "padding": "same"}, [4, 10, 10]),
    "stride 3, plain columns": ({"type": "conv2d", "filters": 16, "kernel_size": 3, "strides": 3}, [1, 13, 13]),
    "conv1d": ({"type": "conv1d", "filters": 3, "kernel_size": 5, "padding": "same"}, [6, 17]),
}  # fmt: skip

POOLS = {
    "2x2": ({"type": "max_pool2d", "pool_size": 2}, [3, 8, 8]),
    "2x2, odd sizes (a row and column no window reads)": ({"type": "max_pool2d", "pool_size": 2}, [2, 7, 9]),
    "2x2 stride 1 (overlapping)": ({"type": "max_pool2d", "pool_size": 2, "strides": 1}, [2, 6, 6]),
    "2x2 stride 3": ({"type": "max_pool2d", "pool_size": 2, "strides": 3}, [2, 11, 11]),
    "2x2 padded (-inf border)": ({"type": "max_pool2d", "pool_size": 2, "padding": "same"}, [2, 7, 7]),
    "3x3 (the numpy passes)": ({"type": "max_pool2d", "pool_size": 3, "strides": 2}, [2, 9, 9]),
    "pool1d 2": ({"type": "max_pool1d", "pool_size": 2}, [3, 15]),
}  # fmt: skip


def _node(layer, shape, op: str):
    graph = build(shape, layer).graph
    return next(n for n in graph.nodes if n.op == op), graph


def _inputs(shape, dtype, rng, ties: bool):
    x = rng.standard_normal((5, *shape)).astype(dtype)
    return np.round(x * 2) if ties else x  # rounded: ties and exact zeros for the codes


def _run(op_name, node, graph, x, dy_seed, training=True, need_dx=True):
    """forward + backward of one kernel (fresh buffers); every output as bytes."""
    op = get_op(op_name)
    params = {}
    grads = {}
    if graph.params:
        store = ParamStore.create(graph, x.dtype.type, np.random.default_rng(1))
        params = {r: store.values[p.name] for r, p in node.params.items()}
        grads = {r: np.full_like(v, np.nan) for r, v in params.items()}
    ctx = RunContext(training=training, rng=np.random.default_rng(0), dtype=x.dtype.type)
    y, cache = op.forward(node.attrs, [x], params, ctx)
    out = {"y": np.array(y)}
    if training:
        dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
        (dx,) = op.backward(node.attrs, dy, cache, params, grads, [need_dx], ctx)
        out.update({f"d{k}": np.array(v) for k, v in grads.items()})
        if dx is not None:
            out["dx"] = np.array(dx)
    return out


def _both(fn):
    with compiled.forced(True):
        fast = fn()
    with compiled.forced(False):
        ref = fn()
    return fast, ref


def _assert_same_bits(fast: dict, ref: dict):
    assert fast.keys() == ref.keys()
    for k in ref:
        a, b = fast[k], ref[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        if a.dtype.kind != "f":
            assert a.tobytes() == b.tobytes(), k
            continue
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{k}: NaN in other places"
        real = ~np.isnan(b)
        # bit for bit, but for the sign of a zero (0 * g may give -0.0 on one path, as numpy's
        # own unfused and fused passes do) and NaN payloads
        assert (a[real] + 0.0).tobytes() == (b[real] + 0.0).tobytes(), f"{k} differs"


def _compare_paths(op, layer, shape, dtype, seed: int, ties: bool, **run_kw) -> dict:
    """One kernel on both paths over the same input: asserts the same bits, returns numpy's."""
    node, graph = _node(layer, shape, op)
    x = _inputs(shape, dtype, np.random.default_rng(seed), ties=ties)
    fast, ref = _both(lambda: _run(op, node, graph, x, seed + 1, **run_kw))
    _assert_same_bits(fast, ref)
    return ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("need_dx", [True, False], ids=["dx", "no dx"])
@pytest.mark.parametrize("case", CONVS)
def test_conv_kernels_match_numpy_bit_for_bit(case, need_dx, dtype):
    ref = _compare_paths("conv", *CONVS[case], dtype, 2, ties=False, need_dx=need_dx)
    assert ("dx" in ref) == need_dx


@pytest.mark.parametrize("training", [True, False], ids=["train", "infer"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOLS)
def test_max_pool_kernels_match_numpy_bit_for_bit(case, dtype, training):
    _compare_paths("max_pool", *POOLS[case], dtype, 4, ties=True, training=training)


@pytest.mark.parametrize("case", ["2x2", "pool1d 2", "2x2 stride 3"])
def test_max_pool_propagates_nan_and_inf_as_numpy_does(case):
    layer, shape = POOLS[case]
    node, graph = _node(layer, shape, "max_pool")
    x = _inputs(shape, np.float32, np.random.default_rng(6), ties=False)
    flat = x.reshape(-1)
    flat[::7], flat[3::11], flat[5::13] = np.nan, np.inf, -np.inf
    fast, ref = _both(lambda: _run("max_pool", node, graph, x, 7))
    _assert_same_bits(fast, ref)
    assert np.isnan(ref["y"]).any() and np.isinf(ref["y"]).any()  # the case does exercise them


def test_pool_over_a_conv_s_wide_rows_matches_numpy():
    """The fused step pools strided views of the conv's wide-row buffer (valid positions only)
    and writes the pool's gradient back into such a view, leaving the other positions alone."""
    from netspec.kernels import conv_wide
    from netspec.kernels.max_pool import max_pool_into, max_unpool

    win = Window((3, 3), (1, 1), (1, 1), (1, 1, 1, 1), (11, 11), (11, 11))  # odd: a row and column no window reads
    g = conv_wide.geometry(win)
    rng = np.random.default_rng(8)
    wide = rng.standard_normal((3, 4, g.length)).astype(np.float32)
    dy = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    pwin = Window((2, 2), (2, 2), (1, 1), (0, 0, 0, 0), (11, 11), (5, 5))

    def pool():
        y, hc, vc = np.empty((3, 4, 5, 5), np.float32), np.empty((3, 4, 11, 5), np.uint8), np.empty((3, 4, 5, 5), np.uint8)
        max_pool_into(conv_wide.valid(wide, g), pwin, y, hc, vc, relu=True)
        y2 = np.empty_like(y)
        max_pool_into(conv_wide.valid(wide, g), pwin, y2)
        dwide = np.full_like(wide, 7.0)  # the garbage positions must keep their value
        max_unpool(dy, pwin, hc, vc, (3, 4, 11, 11), relu_y=y, out=conv_wide.valid(dwide, g))
        return {"y": y, "y no codes": y2, "dy on wide rows": dwide}

    _assert_same_bits(*_both(pool))


@pytest.mark.parametrize("value", [0.0, -np.inf])
def test_padding_matches_numpy(value):
    win = Window((3, 3), (1, 1), (1, 1), (2, 1, 0, 3), (5, 6), (5, 6))
    x = np.random.default_rng(9).standard_normal((2, 3, 5, 6)).astype(np.float32)
    fast, ref = _both(lambda: {"xp": win.pad(x, value).copy()})
    _assert_same_bits(fast, ref)


CNN = [
    {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 5, "kernel_size": 3, "strides": 2, "padding": "same"},
    {"type": "flatten"},
    {"type": "dense", "units": 3},
]


def train_weights(shape, layers, steps: int) -> tuple[bytes, bytes]:
    """A network trained a few SGD steps through the whole plan (fused steps included): its
    weights and its predictions after, as bytes."""
    graph = build(shape, *layers).graph
    store = ParamStore.create(graph, np.float32, np.random.default_rng(0))
    plan = Plan(graph, store)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x = rng.standard_normal((8, *shape)).astype(np.float32)
        z = plan.forward_train(x, np.random.default_rng(2))
        plan.backward((z - 1) / z.size)
        store.flat -= 0.1 * store.grad
    return store.flat.tobytes(), plan.predict(x).tobytes()


def record_loops(monkeypatch, accessor: str) -> set[str]:
    """The names the kernels ask `compiled.<accessor>()` for, collected from now on."""
    used: set[str] = set()
    real = getattr(compiled, accessor)

    class Recorder:
        def __getattr__(self, name):
            used.add(name)
            return getattr(real(), name)

    monkeypatch.setattr(compiled, accessor, Recorder)
    return used


def test_training_ends_with_the_same_weights_on_either_path(monkeypatch):
    used = record_loops(monkeypatch, "loops")
    fast, ref = _both(lambda: train_weights([1, 12, 12], CNN, steps=5))
    assert fast == ref
    # the comparison means something only if the compiled side ran the loops at all
    assert {"im2col", "wide_im2col", "wide_col2im", "max_pool2x2", "max_unpool2x2", "max_pool2x2_values", "pad"} <= used, used


def _enabled_in_child(env_extra: dict, code_before: str = "") -> str:
    env = {**os.environ, **env_extra}
    code = code_before + "from netspec.kernels import compiled; print(compiled.enabled())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_the_switch_and_the_fallback_without_numba():
    assert _enabled_in_child({}) == "True"
    assert _enabled_in_child({compiled.ENV: "numpy"}) == "False"
    # Numba absent (an import that fails): the numpy kernels run, nothing raises
    assert _enabled_in_child({}, "import sys; sys.modules['numba'] = None; ") == "False"


def test_numba_loads_only_for_a_kernel_that_wants_it():
    code = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, {tests!r})\n"
        "from shape_helpers import build\n"
        "from netspec.executor import ParamStore, Plan\n"
        "def predict(shape, *layers):\n"
        "    graph = build(shape, *layers).graph\n"
        "    Plan(graph, ParamStore.create(graph, np.float32, np.random.default_rng(0))).predict(np.ones((2, *shape), np.float32))\n"
        "predict([4], {{'type': 'dense', 'units': 3, 'activation': 'relu'}})\n"
        "predict([4], {{'type': 'dense', 'units': 3, 'activation': 'tanh'}})\n"
        "assert 'numba' not in sys.modules, 'an MLP loaded Numba'\n"
        "predict({shape}, *{layers!r})\n"
        "print('numba' in sys.modules)\n"
    )
    conv = [{"type": "conv2d", "filters": 2, "kernel_size": 3}, {"type": "max_pool2d", "pool_size": 2}]
    recurrent = [[{"type": t, "units": 2}] for t in ("lstm", "rnn", "gru")]  # rnn, gru: their tanh
    for shape, layers in [([1, 6, 6], conv)] + [([5, 3], r) for r in recurrent]:
        child = code.format(tests=os.path.dirname(__file__), shape=shape, layers=layers)
        out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "True", layers
