"""Float32 parity of the MLP-family kernels and the losses with PyTorch (forward and backward).

Conventions mapped here: dense W is (in, out) where torch's linear takes (out, in); our batch-norm
momentum m is torch's 1 - m; torch normalizes channel axis 1, so features-last inputs are
permuted for it.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from netspec.kernels.registry import RunContext, get_op
from netspec.training.losses import LOSSES

RTOL = 1e-5
RNG = np.random.default_rng(0)


def close(ours: np.ndarray, ref, what: str = "") -> None:
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert ours.dtype == np.float32, what
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def f32(*shape, scale=1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def leaf(a: np.ndarray):
    return torch.tensor(a, requires_grad=True)


def run(op_name, attrs, xs, params=None, training=True, trainable=None):
    """Our forward and backward with dy random; returns (y, dy, dxs, grads)."""
    op = get_op(op_name)
    params = params if params is not None else {}
    trainable = (
        [r for r in params if not r.startswith("running")] if trainable is None else trainable
    )
    ctx = RunContext(training=training, rng=np.random.default_rng(0), dtype=np.float32)
    y, cache = op.forward(attrs, xs, params, ctx)
    dy = f32(*y.shape)
    grads = {r: np.empty_like(params[r]) for r in trainable}
    need = [x.dtype == np.float32 for x in xs]
    dxs = op.backward(attrs, dy, cache, params, grads, need, ctx)
    return y, dy, dxs, grads


@pytest.mark.parametrize("shape", [(32, 20), (4, 7, 20)])
@pytest.mark.parametrize("bias", [True, False])
def test_dense(shape, bias):
    x, w, b = f32(*shape), f32(20, 16, scale=0.3), f32(16)
    params = {"weight": w, "bias": b} if bias else {"weight": w}
    y, dy, (dx,), g = run("dense", {"units": 16, "use_bias": bias}, [x], params)
    tx, tw, tb = leaf(x), leaf(w.T.copy()), leaf(b)
    ty = F.linear(tx, tw, tb if bias else None)
    ty.backward(torch.from_numpy(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")
    close(g["weight"], tw.grad.T, "dW")
    if bias:
        close(g["bias"], tb.grad, "db")


ACTIVATIONS = {
    "relu": ({}, F.relu),
    "leaky_relu": ({"alpha": 0.2}, lambda t: F.leaky_relu(t, 0.2)),
    "sigmoid": ({}, torch.sigmoid),
    "tanh": ({}, torch.tanh),
    "softmax": ({}, lambda t: F.softmax(t, dim=-1)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(32, 10), (3, 5, 7)])
def test_activation(name, shape):
    attrs, ref = ACTIVATIONS[name]
    x = f32(*shape, scale=4.0)
    y, dy, (dx,), _ = run(name, attrs, [x])
    tx = leaf(x)
    ty = ref(tx)
    ty.backward(torch.from_numpy(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # 0 * -inf, as in torch
@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0, 2.5])
def test_leaky_relu_is_exact_across_slopes_and_special_values(alpha):
    """The kernel computes max/min(x, alpha * x) and builds the slope without a masked copy;
    it must equal the definition bit for bit, also at 0, +-inf and nan (torch computes the
    definition: x if x > 0 else alpha * x)."""
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40], dtype=np.float32)
    x = np.concatenate([f32(50, scale=3.0), special]).reshape(3, 19)
    y, dy, (dx,), _ = run("leaky_relu", {"alpha": alpha}, [x])
    tx = leaf(x)
    ty = F.leaky_relu(tx, alpha)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_sigmoid_tails_keep_relative_precision():
    x = np.array([-30.0, -15.0, -5.0, 0.0, 5.0, 30.0], dtype=np.float32)
    y, _ = get_op("sigmoid").forward({}, [x], {}, RunContext())
    np.testing.assert_allclose(y, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-6)


def _bn_params(c: int) -> dict[str, np.ndarray]:
    return {
        "gamma": (1 + 0.3 * RNG.standard_normal(c)).astype(np.float32),
        "beta": f32(c, scale=0.5),
        "running_mean": f32(c, scale=0.5),
        "running_var": RNG.uniform(0.5, 2.0, c).astype(np.float32),
    }


@pytest.mark.parametrize("shape,axis", [((32, 6), 1), ((8, 3, 5, 5), 1), ((4, 9, 6), 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, axis, training):
    x = (RNG.standard_normal(shape) * 2 + 1).astype(np.float32)
    c = shape[axis]
    params = _bn_params(c)
    start = copy.deepcopy(params)
    attrs = {"axis": axis, "momentum": 0.9, "epsilon": 1e-3}
    y, dy, (dx,), g = run("batch_norm", attrs, [x], params, training=training)

    def to_torch_layout(a):  # channel axis to position 1
        return np.moveaxis(a, axis, 1).copy()

    tx, tg, tb = leaf(to_torch_layout(x)), leaf(start["gamma"]), leaf(start["beta"])
    rm, rv = (
        torch.from_numpy(start["running_mean"].copy()),
        torch.from_numpy(start["running_var"].copy()),
    )
    ty = F.batch_norm(tx, rm, rv, tg, tb, training=training, momentum=1 - 0.9, eps=1e-3)
    ty.backward(torch.from_numpy(to_torch_layout(dy)))
    close(y, np.moveaxis(ty.detach().numpy(), 1, axis), "y")
    close(dx, np.moveaxis(tx.grad.numpy(), 1, axis), "dx")
    close(g["gamma"], tg.grad, "dgamma")
    close(g["beta"], tb.grad, "dbeta")
    close(params["running_mean"], rm, "running_mean")
    close(params["running_var"], rv, "running_var")


def test_embedding():
    w = f32(11, 4)
    ids = RNG.integers(0, 11, (6, 9))  # many repeats: the scatter-add must accumulate
    y, dy, (dx,), g = run("embedding", {"vocab_size": 11, "dim": 4}, [ids], {"weight": w})
    assert dx is None
    tw = leaf(w)
    ty = F.embedding(torch.from_numpy(ids), tw)
    ty.backward(torch.from_numpy(dy))
    close(y, ty, "y")
    close(g["weight"], tw.grad, "dW")


def test_shape_and_merge_ops():
    a, b = f32(4, 3, 5), f32(4, 2, 5)
    y, dy, (da, db), _ = run("concat", {"axis": 1}, [a, b])
    ta, tb = leaf(a), leaf(b)
    torch.cat([ta, tb], dim=1).backward(torch.from_numpy(dy))
    close(y, torch.cat([ta, tb], dim=1), "concat")
    close(da, ta.grad, "concat da")
    close(db, tb.grad, "concat db")

    y, dy, dxs, _ = run("add", {}, [a, a * 2, a - 1])
    close(y, 4 * a - 1, "add")
    assert all(np.array_equal(d, dy) for d in dxs)

    y, dy, (dx,), _ = run("flatten", {}, [a])
    close(y, torch.flatten(torch.from_numpy(a), 1), "flatten")
    close(dx, dy.reshape(a.shape), "flatten dx")
    y, dy, (dx,), _ = run("reshape", {"shape": [5, -1]}, [a])
    close(y, torch.from_numpy(a).reshape(4, 5, -1), "reshape")
    assert dx.shape == a.shape


def test_dropout_scales_kept_units():
    x = f32(64, 32)
    y, dy, (dx,), _ = run("dropout", {"rate": 0.3}, [x])
    kept = y != 0
    close(y[kept], x[kept] / 0.7, "kept")
    close(dx, np.where(kept, dy / 0.7, 0).astype(np.float32), "dx")


# ---- losses -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(32, 10), (4, 6, 5)])
def test_cross_entropy(shape):
    x = f32(*shape, scale=3.0)
    t = RNG.integers(0, shape[-1], shape[:-1])
    value, grad = LOSSES["cross_entropy"](x, t)
    tx = leaf(x)
    tl = F.cross_entropy(tx.reshape(-1, shape[-1]), torch.from_numpy(t.reshape(-1)))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=RTOL)
    close(grad, tx.grad, "d logits")


def test_cross_entropy_masked_matches_weighted_torch():
    x, t = f32(3, 4, 5), RNG.integers(0, 5, (3, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float32)
    value, grad = LOSSES["cross_entropy"](x, t, mask)
    tx = leaf(x)
    per = F.cross_entropy(tx.reshape(-1, 5), torch.from_numpy(t.reshape(-1)), reduction="none")
    m = torch.from_numpy(mask.reshape(-1))
    tl = (per * m).sum() / m.sum()
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=RTOL)
    close(grad, tx.grad, "d logits")


REGRESSION_REFS = {
    "binary_cross_entropy": F.binary_cross_entropy_with_logits,
    "mse": F.mse_loss,
    "mae": F.l1_loss,
}


@pytest.mark.parametrize("name", sorted(REGRESSION_REFS))
@pytest.mark.parametrize("shape", [(32, 1), (8, 3), (2, 5, 1)])
def test_elementwise_losses(name, shape):
    x = f32(*shape, scale=3.0)
    if name == "binary_cross_entropy":
        t = (RNG.random(shape) < 0.5).astype(np.float32)
    else:
        t = f32(*shape)
    value, grad = LOSSES[name](x, t)
    tx = leaf(x)
    tl = REGRESSION_REFS[name](tx, torch.from_numpy(t))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=RTOL)
    close(grad, tx.grad, "d output")


def test_bce_extreme_logits():
    x = np.array([[60.0], [-60.0], [0.0], [15.0]], dtype=np.float32)
    t = np.array([[0.0], [0.0], [1.0], [1.0]], dtype=np.float32)
    value, grad = LOSSES["binary_cross_entropy"](x, t)
    tx = leaf(x)
    tl = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(t))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=RTOL)
    close(grad, tx.grad, "d logits")
