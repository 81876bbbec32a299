"""The fast conv/pool kernels against the loop reference (tests/reference_conv.py): forward and
backward, float64 and float32 (which must stay float32), chunked im2col, the skipped dX of a
first layer, and the documented tie rule of max pools."""

from __future__ import annotations

import numpy as np
import pytest
import reference_conv as ref
from reference_conv import conv_attrs, pool_attrs

from netspec.kernels import conv as conv_module
from netspec.kernels.registry import RunContext, get_op


def ctx(dtype, training=True):
    return RunContext(training=training, dtype=dtype)


def assert_close(ours, want, dtype, what):
    assert ours.dtype == dtype, f"{what}: dtype {ours.dtype}, expected {dtype}"
    tol = 1e-12 if dtype == np.float64 else 2e-5
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(ours, want, rtol=tol, atol=tol * scale, err_msg=what)


CONVS = [
    (2, {"kernel": 3, "pads": 1}),
    (2, {"kernel": (2, 3), "strides": (2, 1), "dilations": (1, 2), "pads": (1, 0, 0, 2)}),
    (2, {"kernel": 1, "strides": 2}),
    (2, {"kernel": 3, "dilations": 2, "use_bias": False}),
    (1, {"kernel": 5, "strides": 2, "pads": (2, 1)}),
    (1, {"kernel": 3, "dilations": 3, "pads": (0, 4), "use_bias": False}),
]


def run_conv(attrs, x, w, b, dtype, *, need_dx=True, training=True):
    op = get_op("conv")
    params = {"weight": w} if b is None else {"weight": w, "bias": b}
    y, cache = op.forward(attrs, [x], params, ctx(dtype, training))
    dy = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
    grads = {role: np.full_like(p, np.nan) for role, p in params.items()}
    (dx,) = op.backward(attrs, dy, cache, params, grads, [need_dx], ctx(dtype, training))
    return y, dy, dx, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("nd", "kw"), CONVS)
def test_conv_matches_reference(nd, kw, dtype):
    attrs = conv_attrs(nd, 5, **kw)
    r = np.random.default_rng(0)
    x = r.standard_normal((3, 4) + (9, 8)[:nd]).astype(dtype)
    w = r.standard_normal((5, 4, *attrs["kernel"])).astype(dtype)
    b = r.standard_normal(5).astype(dtype) if attrs["use_bias"] else None
    y, dy, dx, grads = run_conv(attrs, x, w, b, dtype)
    y_ref, back = ref.conv(x, w, b, attrs["strides"], attrs["dilations"], attrs["pads"])
    dx_ref, dw_ref, db_ref = back(dy)
    assert_close(y, y_ref, dtype, "y")
    assert_close(dx, dx_ref, dtype, "dx")
    assert_close(grads["weight"], dw_ref, dtype, "dw")
    if b is not None:
        assert_close(grads["bias"], db_ref, dtype, "db")


# stride 1 with more column rows than filters: wide rows, on the padded layout whose left and
# right padding are shared (conv_wide.shared_pad): left > right, right > left, dilated, 1-D
@pytest.mark.parametrize("need_dx", [True, False], ids=["dx", "dW only"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_with_many_column_rows_matches_reference(dtype, use_bias, need_dx):
    """16 channels x 3x3 (+ the bias row): the dW product runs on a contiguous copy of dy^T
    (conv._copy_dy_t), which the small convs above never take."""
    attrs = conv_attrs(2, 16, kernel=3, pads=1, use_bias=use_bias)
    r = np.random.default_rng(3)
    x = r.standard_normal((5, 16, 6, 7)).astype(dtype)
    w = r.standard_normal((16, 16, 3, 3)).astype(dtype)
    b = r.standard_normal(16).astype(dtype) if use_bias else None
    assert conv_module._copy_dy_t(16 * 9 + use_bias, 16, 6 * 9)
    y, dy, dx, grads = run_conv(attrs, x, w, b, dtype, need_dx=need_dx)
    y_ref, back = ref.conv(x, w, b, attrs["strides"], attrs["dilations"], attrs["pads"])
    dx_ref, dw_ref, db_ref = back(dy)
    assert_close(grads["weight"], dw_ref, dtype, "dw")
    if use_bias:
        assert_close(grads["bias"], db_ref, dtype, "db")
    if need_dx:
        assert_close(dx, dx_ref, dtype, "dx")


SHARED_PADS = [
    (2, {"kernel": 3, "dilations": 2, "pads": (2, 3, 1, 1)}),
    (2, {"kernel": (3, 5), "pads": (1, 1, 2, 3)}),
    (2, {"kernel": 3, "pads": (0, 1, 0, 1)}),
    (2, {"kernel": 3, "pads": 3}),  # padding wider than the kernel's reach: only 2 shared
    (2, {"kernel": 1, "pads": 1}),  # a 1x1 kernel reaches nothing: no sharing
    (1, {"kernel": 3, "pads": (2, 2)}),
]


@pytest.mark.parametrize("need_dx", [True, False], ids=["dx", "dW only"])
@pytest.mark.parametrize(("nd", "kw"), SHARED_PADS)
def test_wide_rows_on_shared_padding_match_reference(nd, kw, need_dx):
    attrs = conv_attrs(nd, 3, **kw)
    r = np.random.default_rng(4)
    x = r.standard_normal((3, 4) + (6, 7)[:nd])
    w, b = r.standard_normal((3, 4, *attrs["kernel"])), r.standard_normal(3)
    y, dy, dx, grads = run_conv(attrs, x, w, b, np.float64, need_dx=need_dx)
    y_ref, back = ref.conv(x, w, b, attrs["strides"], attrs["dilations"], attrs["pads"])
    dx_ref, dw_ref, db_ref = back(dy)
    assert_close(y, y_ref, np.float64, "y")
    assert_close(grads["weight"], dw_ref, np.float64, "dw")
    assert_close(grads["bias"], db_ref, np.float64, "db")
    if need_dx:
        assert_close(dx, dx_ref, np.float64, "dx")
    else:
        assert dx is None


@pytest.mark.parametrize("training", [True, False])
def test_conv_chunks_and_first_layer(monkeypatch, training):
    """Tiny chunks (one sample each) give the same result, in either mode; need_dx=False
    returns None but still fills the parameter gradients."""
    attrs = conv_attrs(2, 6, 3, strides=2, pads=(1, 1, 0, 0))
    r = np.random.default_rng(1)
    x, w, b = r.standard_normal((5, 2, 7, 7)), r.standard_normal((6, 2, 3, 3)), r.standard_normal(6)
    whole = run_conv(attrs, x, w, b, np.float64)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    y, _, dx, grads = run_conv(attrs, x, w, b, np.float64, need_dx=False, training=training)
    assert dx is None
    assert_close(y, whole[0], np.float64, "y")
    for role in ("weight", "bias"):
        assert_close(grads[role], whole[3][role], np.float64, role)


POOLS = [
    (2, {"kernel": 2}),
    (2, {"kernel": 3, "strides": 2, "pads": 1}),
    (2, {"kernel": (3, 2), "strides": (1, 3), "pads": (2, 0, 0, 1)}),
    (1, {"kernel": 3, "strides": 1, "pads": (2, 0)}),
    (1, {"kernel": 2, "strides": 3}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("nd", "kw"), POOLS)
def test_pool_matches_reference(kind, nd, kw, dtype):
    attrs = pool_attrs(nd, **kw)
    r = np.random.default_rng(2)
    x = r.standard_normal((2, 3) + (8, 7)[:nd]).astype(dtype)
    op = get_op(f"{kind}_pool")
    y, cache = op.forward(attrs, [x], {}, ctx(dtype))
    dy = r.standard_normal(y.shape).astype(dtype)
    (dx,) = op.backward(attrs, dy, cache, {}, {}, [True], ctx(dtype))
    y_ref, back = ref.pool(kind, x, attrs["kernel"], attrs["strides"], attrs["pads"])
    assert_close(y, y_ref, dtype, "y")
    assert_close(dx, back(dy), dtype, "dx")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("shape", "axes"), [((2, 3, 4, 5), (2, 3)), ((3, 6, 4), (1,))])
def test_global_pool_matches_reference(kind, shape, axes, dtype):
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    op = get_op(f"global_{kind}_pool")
    y, cache = op.forward({"axes": axes}, [x], {}, ctx(dtype))
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
    (dx,) = op.backward({"axes": axes}, dy, cache, {}, {}, [True], ctx(dtype))
    y_ref, back = ref.global_pool(kind, x, axes)
    assert_close(y, y_ref, dtype, "y")
    assert_close(dx, back(dy), dtype, "dx")


def test_max_ties_route_to_the_first_maximum():
    """A constant input ties every window: each output sends its gradient to exactly one
    element, the window's first (row-major), so the gradient's total equals dy's."""
    x = np.ones((1, 1, 4, 4))
    attrs = pool_attrs(2, 2, strides=1)
    op = get_op("max_pool")
    y, cache = op.forward(attrs, [x], {}, ctx(np.float64))
    (dx,) = op.backward(attrs, np.ones_like(y), cache, {}, {}, [True], ctx(np.float64))
    want = np.zeros((4, 4))
    want[:3, :3] = 1  # output (i, j) picks input (i, j), the top-left of its window
    np.testing.assert_array_equal(dx[0, 0], want)

    g = get_op("global_max_pool")
    y, cache = g.forward({"axes": (2, 3)}, [x], {}, ctx(np.float64))
    (dx,) = g.backward({"axes": (2, 3)}, np.ones_like(y), cache, {}, {}, [True], ctx(np.float64))
    assert dx.sum() == 1 and dx[0, 0, 0, 0] == 1
