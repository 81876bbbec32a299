"""Float64 central-difference checks of every MLP-family kernel's backward and of every loss.

Each op is checked through L = sum(y * R) for a fixed random R (so dy = R), perturbing every
input element and every trainable parameter element by +-1e-5; tolerance
|numeric - analytic| <= 1e-7 + 1e-6 * |analytic| (DESIGN.md section 6).
"""

from __future__ import annotations

import copy

import numpy as np
from gradcheck import assert_close, numeric_grad
import pytest

from netspec.kernels.registry import RunContext, all_ops, get_op
from netspec.training.losses import LOSSES


# The ops whose kernels this family provides (conv/pool/rnn/lstm come with their own modules).
MLP_OPS = {
    "dense", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "dropout", "gaussian_noise",
    "batch_norm", "flatten", "reshape", "add", "concat", "embedding",
}  # fmt: skip


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def away_from_zero(shape, seed: int = 0) -> np.ndarray:
    """Values with |x| >= 0.1: no relu/leaky_relu kink within a step."""
    r = _rng(seed)
    return np.where(r.random(shape) < 0.5, -1.0, 1.0) * (0.1 + r.random(shape))


def bn_params(c: int, seed: int = 3) -> dict[str, np.ndarray]:
    r = _rng(seed)
    return {
        "gamma": r.uniform(0.5, 1.5, c),
        "beta": r.normal(0, 0.5, c),
        "running_mean": r.normal(0, 0.5, c),
        "running_var": r.uniform(0.5, 2.0, c),
    }


def check_op(op_name, attrs, xs, params=None, *, training=True, seed=None, trainable=None):
    """Compare analytic input and parameter gradients with central differences."""
    op = get_op(op_name)
    params = params or {}
    trainable = (
        [r for r in params if not r.startswith("running")] if trainable is None else trainable
    )

    def ctx():
        rng = None if seed is None else np.random.default_rng(seed)
        return RunContext(training=training, rng=rng, dtype=np.float64)

    def loss(xs_, params_):
        # Fresh params copy: batch norm updates its running stats in place when training.
        y, _ = op.forward(attrs, xs_, copy.deepcopy(params_), ctx())
        return float(np.sum(y * R))

    y, cache = op.forward(attrs, xs, copy.deepcopy(params), ctx())
    R = _rng(42).standard_normal(y.shape)
    grads = {role: np.full_like(params[role], np.nan) for role in trainable}  # must be overwritten
    need = [np.issubdtype(x.dtype, np.floating) for x in xs]
    dxs = op.backward(attrs, R.copy(), cache, params, grads, need, ctx())
    assert len(dxs) == len(xs)

    for k, x in enumerate(xs):
        if need[k]:
            assert_close(numeric_grad(lambda: loss(xs, params), x), dxs[k], f"{op_name} d input {k}")
        else:
            assert dxs[k] is None
    for role in trainable:
        assert_close(numeric_grad(lambda: loss(xs, params), params[role]), grads[role], f"{op_name} d {role}")


def dense_params(n_in: int, units: int, bias: bool = True) -> dict[str, np.ndarray]:
    r = _rng(7)
    p = {"weight": r.standard_normal((n_in, units))}
    if bias:
        p["bias"] = r.standard_normal(units)
    return p


CASES = {
    "dense": [
        ({"units": 5, "use_bias": True}, [_rng(1).standard_normal((3, 4))], dense_params(4, 5)),
        (
            {"units": 3, "use_bias": False},
            [_rng(1).standard_normal((2, 3, 4))],
            dense_params(4, 3, False),
        ),
    ],
    "relu": [({}, [away_from_zero((3, 5))], None), ({}, [away_from_zero((2, 2, 3, 3))], None)],
    "leaky_relu": [({"alpha": 0.1}, [away_from_zero((4, 5))], None)],
    "sigmoid": [({}, [3 * _rng(2).standard_normal((3, 5))], None)],
    "tanh": [({}, [2 * _rng(2).standard_normal((3, 5))], None)],
    "softmax": [
        ({}, [2 * _rng(2).standard_normal((3, 5))], None),
        ({}, [_rng(4).standard_normal((2, 3, 4))], None),
    ],
    "dropout": [({"rate": 0.4}, [_rng(5).standard_normal((4, 6))], None)],
    "gaussian_noise": [({"stddev": 0.3}, [_rng(5).standard_normal((4, 6))], None)],
    "batch_norm": [
        (
            {"axis": 1, "momentum": 0.9, "epsilon": 1e-5},
            [_rng(6).normal(1.0, 2.0, (6, 3))],
            bn_params(3),
        ),
        (
            {"axis": 1, "momentum": 0.9, "epsilon": 1e-3},
            [_rng(6).standard_normal((3, 2, 2, 3))],
            bn_params(2),
        ),
        (
            {"axis": 2, "momentum": 0.8, "epsilon": 1e-5},
            [_rng(6).standard_normal((2, 4, 3))],
            bn_params(3),
        ),
    ],
    "flatten": [({}, [_rng(8).standard_normal((2, 3, 4))], None)],
    "reshape": [({"shape": [3, -1]}, [_rng(8).standard_normal((2, 12))], None)],
    "add": [({}, [_rng(k).standard_normal((3, 4)) for k in range(3)], None)],
    "concat": [
        ({"axis": -1}, [_rng(1).standard_normal((2, 3)), _rng(2).standard_normal((2, 4))], None),
        (
            {"axis": 1},
            [_rng(1).standard_normal((2, 3, 2)), _rng(2).standard_normal((2, 1, 2))],
            None,
        ),
    ],
    "embedding": [
        (
            {"vocab_size": 5, "dim": 3},
            [np.array([[0, 2, 2], [4, 0, 2]])],
            {"weight": _rng(9).standard_normal((5, 3))},
        ),
        (
            {"vocab_size": 4, "dim": 2},
            [np.array([1, 3, 1, 1])],
            {"weight": _rng(9).standard_normal((4, 2))},
        ),
    ],
}
STOCHASTIC = {"dropout": 123, "gaussian_noise": 321}


def _case_ids():
    return [(name, i) for name, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize("name,i", _case_ids(), ids=[f"{n}-{i}" for n, i in _case_ids()])
def test_gradient_training(name, i):
    attrs, xs, params = CASES[name][i]
    check_op(name, attrs, [x.copy() for x in xs], copy.deepcopy(params), seed=STOCHASTIC.get(name))


@pytest.mark.parametrize("name", ["batch_norm", "dropout", "gaussian_noise"])
def test_gradient_inference(name):
    for attrs, xs, params in CASES[name]:
        check_op(name, attrs, [x.copy() for x in xs], copy.deepcopy(params), training=False)


def test_batch_norm_frozen_and_no_dx():
    """Frozen gamma/beta (no grads) still give the right dx; need_dx False gives None."""
    attrs, xs, params = CASES["batch_norm"][1]
    check_op("batch_norm", attrs, [xs[0].copy()], copy.deepcopy(params), trainable=[])
    op = get_op("batch_norm")
    ctx = RunContext(training=True)
    y, cache = op.forward(attrs, xs, copy.deepcopy(params), ctx)
    grads = {"gamma": np.empty(2), "beta": np.empty(2)}
    assert op.backward(attrs, np.ones_like(y), cache, params, grads, [False], ctx) == [None]
    assert np.allclose(grads["beta"], y.size / 2)


def test_dense_frozen_skips_weight_grads():
    attrs, xs, params = CASES["dense"][0]
    op = get_op("dense")
    y, cache = op.forward(attrs, xs, params, RunContext())
    assert op.backward(attrs, np.ones_like(y), cache, params, {}, [False], RunContext()) == [None]
    check_op("dense", attrs, [xs[0].copy()], copy.deepcopy(params), trainable=["bias"])


def test_every_mlp_op_has_kernels_and_a_gradient_case():
    ops = all_ops()
    for name in MLP_OPS:
        assert ops[name].forward is not None and ops[name].backward is not None, name
    assert set(CASES) == MLP_OPS


@pytest.mark.parametrize("name", sorted(MLP_OPS))
def test_float32_stays_float32(name):
    attrs, xs, params = CASES[name][0]
    xs32 = [x.astype(np.float32) if x.dtype == np.float64 else x for x in xs]
    p32 = {k: v.astype(np.float32) for k, v in (params or {}).items()}
    op = get_op(name)
    ctx = RunContext(training=True, rng=_rng(0), dtype=np.float32)
    y, cache = op.forward(attrs, xs32, p32, ctx)
    assert y.dtype == np.float32
    grads = {k: np.empty_like(v) for k, v in p32.items() if not k.startswith("running")}
    need = [x.dtype == np.float32 for x in xs32]
    dxs = op.backward(attrs, np.ones_like(y), cache, p32, grads, need, ctx)
    assert all(dx.dtype == np.float32 for dx in dxs if dx is not None)
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in grads.values())
    assert all(v.dtype == np.float32 for v in p32.values())  # running stats updated in place


def test_dropout_mask_and_identity():
    x = np.ones((200, 50))
    y, _ = get_op("dropout").forward({"rate": 0.25}, [x], {}, RunContext(True, _rng(0)))
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs(np.mean(y == 0) - 0.25) < 0.02
    for training, rate in ((False, 0.5), (True, 0.0)):
        assert (
            get_op("dropout").forward({"rate": rate}, [x], {}, RunContext(training, _rng(0)))[0]
            is x
        )


def test_batch_norm_running_stats_update():
    x = _rng(0).normal(2.0, 3.0, (50, 4))
    p = bn_params(4)
    before = copy.deepcopy(p)
    get_op("batch_norm").forward(
        {"axis": 1, "momentum": 0.9, "epsilon": 1e-5}, [x], p, RunContext(True)
    )
    assert np.allclose(p["running_mean"], 0.9 * before["running_mean"] + 0.1 * x.mean(0))
    assert np.allclose(p["running_var"], 0.9 * before["running_var"] + 0.1 * x.var(0, ddof=1))
    p2 = copy.deepcopy(p)
    get_op("batch_norm").forward(
        {"axis": 1, "momentum": 0.9, "epsilon": 1e-5}, [x], p2, RunContext(False)
    )
    assert all(np.array_equal(p[k], p2[k]) for k in p)


# ---- losses -------------------------------------------------------------------------------


def _loss_inputs(name: str, shape, seed: int = 0):
    r = _rng(seed)
    out = r.standard_normal(shape) * 2
    if name == "cross_entropy":
        return out, r.integers(0, shape[-1], shape[:-1])
    if name == "binary_cross_entropy":
        return out, (r.random(shape) < 0.5).astype(np.float64)
    if name == "mae":  # keep |output - target| >= 0.1: no kink within a step
        return out, out - away_from_zero(shape, seed + 1)
    return out, r.standard_normal(shape)


def check_loss(name, out, target, mask=None):
    fn = LOSSES[name]
    value, grad = fn(out, target, mask)
    assert isinstance(value, float) and grad.shape == out.shape
    num = numeric_grad(lambda: fn(out, target, mask)[0], out)
    assert_close(num, grad, f"{name} d output")


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 3), (5, 1)])
def test_loss_gradient(name, shape):
    if name == "cross_entropy" and shape[-1] == 1:
        shape = (5, 3)
    out, target = _loss_inputs(name, shape)
    check_loss(name, out, target)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradient_with_mask(name):
    """A (batch, time) mask: padded steps add nothing and the mean is over real steps."""
    shape = (3, 4, 2)
    out, target = _loss_inputs(name, shape, seed=5)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float64)
    check_loss(name, out, target, mask)
    value, grad = LOSSES[name](out, target, mask)
    assert np.all(grad[mask == 0] == 0)
    keep = mask.astype(bool)
    sub_out, sub_t = out[keep], target[keep]  # only the real steps, unmasked
    assert np.isclose(value, LOSSES[name](sub_out, sub_t)[0], rtol=1e-12)


def test_losses_are_stable_for_extreme_logits():
    x = np.array([[1000.0, -1000.0, 0.0]])
    v, g = LOSSES["cross_entropy"](x, np.array([1]))
    assert np.isclose(v, 2000.0) and np.isfinite(g).all()
    v, g = LOSSES["binary_cross_entropy"](np.array([[800.0], [-800.0]]), np.array([[0.0], [1.0]]))
    assert np.isclose(v, 800.0) and np.allclose(g, [[0.5], [-0.5]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        LOSSES["binary_cross_entropy"](
            np.array([[-1e4], [1e4]], dtype=np.float32), np.zeros((2, 1))
        )


# ---- initializers (kept here: this helper's brief names no separate test file) -------------


def test_initializers():
    from netspec.ir.graph import Param
    from netspec.kernels.init import init_param

    def draw(init, shape=(400, 300), fan_in=400, fan_out=300, dtype=np.float32):
        return init_param(Param("l.w", shape, init, fan_in, fan_out), _rng(0), dtype)

    limits = {
        "uniform_fan_in": 1 / 20,
        "glorot_uniform": np.sqrt(6 / 700),
        "he_uniform": np.sqrt(6 / 400),
    }
    for name, limit in limits.items():
        w = draw(name)
        assert w.dtype == np.float32 and w.shape == (400, 300)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
        assert np.isclose(w.std(), limit / np.sqrt(3), rtol=0.02)
    for name, std in {
        "glorot_normal": np.sqrt(2 / 700),
        "he_normal": np.sqrt(2 / 400),
        "normal": 0.01,
    }.items():
        assert np.isclose(draw(name, dtype=np.float64).std(), std, rtol=0.02)
    assert not draw("zeros").any() and (draw("ones") == 1).all()
    fb = draw("forget_bias", shape=(12,), fan_in=3, fan_out=12)
    assert fb.tolist() == [0] * 3 + [1] * 3 + [0] * 6
    assert np.array_equal(draw("he_normal"), draw("he_normal"))  # seeded
    with pytest.raises(ValueError, match="unknown initializer"):
        draw("orthogonal")
