"""Float32 parity of the conv and pool kernels with PyTorch, forward and backward.

Conventions mapped here: torch pads symmetrically, so asymmetric ONNX-order pads (begins...,
ends...) go through F.pad first (with -inf for max pools); our avg pool excludes padding from
the count (count_include_pad=False); global pools are adaptive pools to size 1 (channels-first)
or a reduction over the time axis (features-last).
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_conv import conv_attrs, pool_attrs

torch = pytest.importorskip("torch")
F = torch.nn.functional

from netspec.kernels.registry import RunContext, get_op

RTOL = 1e-4
CTX = RunContext(training=True, dtype=np.float32)


def close(ours: np.ndarray, ref, what: str) -> None:
    ref = ref.detach().numpy()
    assert ours.dtype == np.float32, what
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def f32(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def leaf(a: np.ndarray):
    return torch.tensor(a, requires_grad=True)


def torch_pad(x, pads, nd, value=0.0):
    """ONNX-order pads -> F.pad's last-axis-first (begin, end) pairs."""
    pairs = []
    for a in reversed(range(nd)):
        pairs += [pads[a], pads[nd + a]]
    return F.pad(x, pairs, value=value) if any(pairs) else x


def ours(op_name, attrs, x, params, dy_seed=9):
    op = get_op(op_name)
    y, cache = op.forward(attrs, [x], params, CTX)
    dy = f32(*y.shape, seed=dy_seed)
    grads = {role: np.empty_like(p) for role, p in params.items()}
    (dx,) = op.backward(attrs, dy, cache, params, grads, [True], CTX)
    return y, dy, dx, grads


CONVS = [
    (2, {"kernel": 3, "pads": 1}),
    (2, {"kernel": 3}),
    (2, {"kernel": (3, 2), "pads": (0, 1, 2, 0)}),
    (2, {"kernel": 3, "strides": 2, "pads": (0, 0, 1, 1)}),
    (2, {"kernel": 3, "dilations": 2, "pads": 2, "use_bias": False}),
    (1, {"kernel": 3, "pads": 1}),
    (1, {"kernel": 4, "pads": (1, 2), "strides": 2}),
    (1, {"kernel": 3, "dilations": 2, "use_bias": False}),
]


@pytest.mark.parametrize(("nd", "kw"), CONVS)
def test_conv(nd, kw):
    attrs = conv_attrs(nd, 8, **kw)
    x = f32(4, 3, *(12, 10)[:nd], seed=1)
    w = f32(8, 3, *attrs["kernel"], seed=2) * 0.3
    params = {"weight": w}
    if attrs["use_bias"]:
        params["bias"] = f32(8, seed=3)
    y, dy, dx, grads = ours("conv", attrs, x, params)
    tx, tw = leaf(x), leaf(w)
    tb = leaf(params["bias"]) if "bias" in params else None
    conv = F.conv1d if nd == 1 else F.conv2d
    ty = conv(
        torch_pad(tx, attrs["pads"], nd),
        tw,
        tb,
        stride=attrs["strides"],
        dilation=attrs["dilations"],
    )
    ty.backward(torch.tensor(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")
    close(grads["weight"], tw.grad, "dw")
    if tb is not None:
        close(grads["bias"], tb.grad, "db")


POOLS = [
    (2, {"kernel": 2}),
    (2, {"kernel": 3, "strides": 2, "pads": 1}),
    (2, {"kernel": (2, 3), "strides": (1, 2), "pads": (1, 0, 0, 1)}),
    (1, {"kernel": 2}),
    (1, {"kernel": 3, "strides": 2, "pads": 1}),
    (1, {"kernel": 4, "strides": 1, "pads": (2, 1)}),
]


@pytest.mark.parametrize(("nd", "kw"), POOLS)
def test_max_pool(nd, kw):
    attrs = pool_attrs(nd, **kw)
    x = f32(3, 4, *(11, 9)[:nd], seed=4)
    y, dy, dx, _ = ours("max_pool", attrs, x, {})
    tx = leaf(x)
    pool = F.max_pool1d if nd == 1 else F.max_pool2d
    ty = pool(torch_pad(tx, attrs["pads"], nd, -float("inf")), attrs["kernel"], attrs["strides"])
    ty.backward(torch.tensor(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")


AVG_POOLS = [
    (2, {"kernel": 2}),
    (2, {"kernel": 3, "strides": 2, "pads": 1}),
    (2, {"kernel": (2, 3), "strides": (1, 2), "pads": (1, 1, 1, 1)}),
    (1, {"kernel": 3, "strides": 2, "pads": 1}),
    (1, {"kernel": 4, "strides": 1, "pads": (1, 1)}),
]


@pytest.mark.parametrize(("nd", "kw"), AVG_POOLS)
def test_avg_pool_excludes_padding(nd, kw):
    """Symmetric pads only: torch's count_include_pad=False cannot see pads added by F.pad
    (asymmetric pads are covered against the loop reference)."""
    attrs = pool_attrs(nd, **kw)
    p = attrs["pads"]
    x = f32(3, 4, *(11, 9)[:nd], seed=5)
    y, dy, dx, _ = ours("avg_pool", attrs, x, {})
    tx = leaf(x)
    pool = F.avg_pool1d if nd == 1 else F.avg_pool2d
    ty = pool(tx, attrs["kernel"], attrs["strides"], padding=p[:nd], count_include_pad=False)
    ty.backward(torch.tensor(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize(
    ("shape", "axes"), [((4, 5, 6, 7), (2, 3)), ((4, 5, 9), (2,)), ((4, 9, 5), (1,))]
)
def test_global_pools(kind, shape, axes):
    x = f32(*shape, seed=6)
    y, dy, dx, _ = ours(f"global_{kind}_pool", {"axes": axes}, x, {})
    tx = leaf(x)
    if axes == (1,):  # features-last (batch, time, features): reduce over time
        ty = tx.mean(1) if kind == "avg" else tx.max(1).values
    else:
        adaptive = getattr(F, f"adaptive_{kind}_pool{len(axes)}d")
        ty = adaptive(tx, 1).flatten(1)
    ty.backward(torch.tensor(dy))
    close(y, ty, "y")
    close(dx, tx.grad, "dx")
