"""Float64 central-difference checks of the conv and pool kernels' backward.

Each op is checked through L = sum(y * R) for a fixed random R (so dy = R), perturbing every
input element and every parameter element by +-1e-5; tolerance |numeric - analytic| <=
1e-7 + 1e-6 * |analytic| (DESIGN.md section 6). Max-pool inputs are a shuffled grid with
spacing 0.01, so no window holds a tie within a step.
"""

from __future__ import annotations

import numpy as np
from gradcheck import assert_close as close
from gradcheck import numeric_grad
import pytest
from reference_conv import conv_attrs, pool_attrs

from netspec.kernels.registry import RunContext, get_op

CTX = RunContext(training=True, dtype=np.float64)


def check(op_name: str, attrs: dict, x: np.ndarray, params: dict | None = None) -> None:
    op = get_op(op_name)
    params = params or {}
    y, cache = op.forward(attrs, [x], params, CTX)
    R = np.random.default_rng(42).standard_normal(y.shape)
    grads = {role: np.full_like(p, np.nan) for role, p in params.items()}  # must be overwritten
    (dx,) = op.backward(attrs, R.copy(), cache, params, grads, [True], CTX)

    def loss() -> float:
        return float(np.sum(op.forward(attrs, [x], params, CTX)[0] * R))

    close(numeric_grad(loss, x), dx, f"{op_name} d/dx")
    for role, p in params.items():
        close(numeric_grad(loss, p), grads[role], f"{op_name} d/d{role}")


def distinct(shape, seed: int = 0) -> np.ndarray:
    """Values 0.01 apart in shuffled order: no max ties within a finite-difference step."""
    r = np.random.default_rng(seed)
    return (r.permutation(int(np.prod(shape))) * 0.01 - 0.5).reshape(shape)


CONV2D = {
    "valid": {"kernel": 3},
    "same": {"kernel": 3, "pads": 1},
    "asymmetric pads": {"kernel": (2, 3), "pads": (1, 0, 0, 2)},
    "stride 2": {"kernel": 3, "strides": 2, "pads": 1},
    "dilation 2": {"kernel": 3, "dilations": 2, "pads": (2, 1, 2, 1)},
    "stride, dilation, no bias": {
        "kernel": (3, 2),
        "strides": (2, 1),
        "dilations": (1, 2),
        "use_bias": False,
    },
}
CONV1D = {
    "valid": {"kernel": 3},
    "same even kernel": {"kernel": 4, "pads": (1, 2)},
    "stride 2": {"kernel": 3, "strides": 2, "pads": (1, 1)},
    "dilation 2": {"kernel": 3, "dilations": 2, "pads": (2, 2)},
    "no bias": {"kernel": 2, "strides": 3, "use_bias": False},
}


def conv_params(attrs: dict, channels: int, seed: int = 1) -> dict:
    r = np.random.default_rng(seed)
    out = {"weight": r.standard_normal((attrs["filters"], channels, *attrs["kernel"]))}
    if attrs["use_bias"]:
        out["bias"] = r.standard_normal(attrs["filters"])
    return out


@pytest.mark.parametrize("config", CONV2D, ids=list(CONV2D))
def test_conv2d_gradients(config):
    attrs = conv_attrs(2, 4, **CONV2D[config])
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7))
    check("conv", attrs, x, conv_params(attrs, 3))


@pytest.mark.parametrize("config", ["same", "stride 2", "stride, dilation, no bias"])
def test_conv2d_gradients_with_more_filters_than_column_rows(config):
    """1 channel x 2x2 or 3x3 kernels < 12 filters: the forward takes plain columns and the
    backward builds its wide-row phases itself."""
    attrs = conv_attrs(2, 12, **CONV2D[config])
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 7))
    check("conv", attrs, x, conv_params(attrs, 1))


@pytest.mark.parametrize("config", CONV1D, ids=list(CONV1D))
def test_conv1d_gradients(config):
    attrs = conv_attrs(1, 4, **CONV1D[config])
    x = np.random.default_rng(0).standard_normal((3, 2, 11))
    check("conv", attrs, x, conv_params(attrs, 2))


POOLS = {
    "2d 2x2": (2, {"kernel": 2}),
    "2d 3x3 stride 2 pad 1": (2, {"kernel": 3, "strides": 2, "pads": 1}),
    "2d stride < size, asymmetric pads": (
        2,
        {"kernel": (3, 2), "strides": (1, 2), "pads": (0, 1, 2, 0)},
    ),
    "1d 3 stride 2 pad 1": (1, {"kernel": 3, "strides": 2, "pads": 1}),
    "1d 4 stride 1 pads (1, 2)": (1, {"kernel": 4, "strides": 1, "pads": (1, 2)}),
}


@pytest.mark.parametrize("kind", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("config", POOLS, ids=list(POOLS))
def test_pool_gradients(kind, config):
    nd, kw = POOLS[config]
    shape = (2, 3, 7, 6) if nd == 2 else (2, 3, 9)
    check(kind, pool_attrs(nd, **kw), distinct(shape))


TILED = {  # windows that cover the input exactly once (the pools' tiled fast paths)
    "2d 2x2 on 6x8": (2, {"kernel": 2}, (2, 3, 6, 8)),
    "2d 3x3 on 6x9": (2, {"kernel": 3}, (2, 3, 6, 9)),
    "2d 2x3 on 4x6": (2, {"kernel": (2, 3)}, (2, 3, 4, 6)),
    "1d 2 on 8": (1, {"kernel": 2}, (2, 3, 8)),
}


@pytest.mark.parametrize("kind", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("config", TILED, ids=list(TILED))
def test_tiled_pool_gradients(kind, config):
    nd, kw, shape = TILED[config]
    check(kind, pool_attrs(nd, **kw), distinct(shape))


@pytest.mark.parametrize("kind", ["global_max_pool", "global_avg_pool"])
@pytest.mark.parametrize(
    ("shape", "axes"),
    [((2, 3, 4, 5), (2, 3)), ((3, 7, 4), (1,)), ((2, 3, 9), (2,))],
    ids=["channels-first 2d", "features-last", "channels-first 1d"],
)
def test_global_pool_gradients(kind, shape, axes):
    check(kind, {"axes": axes}, distinct(shape))
