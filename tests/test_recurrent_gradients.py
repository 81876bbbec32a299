"""rnn / lstm kernels: float64 central-difference gradient checks (step 1e-5, tolerance
1e-7 + 1e-6 * |analytic|, DESIGN.md section 6), a slow per-sample reference forward, and the
variable-length contract: padded steps change neither the state, the outputs (exact zeros) nor
the gradients.

Each check goes through L = sum(y * r) for a fixed random r (so dy = r).
"""

from __future__ import annotations

import numpy as np
from gradcheck import assert_close as close
from gradcheck import numeric_grad
import pytest

from netspec.kernels.registry import RunContext, ShapeError, get_op


B, T, N_IN, H = 4, 5, 3, 3
ROLES = ("kernel", "recurrent", "bias_ih", "bias_hh")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACT = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0),
    "sigmoid": _sigmoid,
    "identity": lambda a: a,
    "leaky_relu": lambda a: np.where(a > 0, a, 0.01 * a),
}


def reference(kind, attrs, x, p, lengths):
    """Per sample, per real step; returns (y, pre-activations seen by rnn kinks)."""
    n_b, n_t, _ = x.shape
    h = p["recurrent"].shape[0]
    lens = np.full(n_b, n_t) if lengths is None else lengths
    seq = np.zeros((n_b, n_t, h))
    last = np.zeros((n_b, h))
    pre = []
    for b in range(n_b):
        hb, cb = np.zeros(h), np.zeros(h)
        for t in range(lens[b]):
            z = x[b, t] @ p["kernel"] + hb @ p["recurrent"] + p["bias_ih"] + p["bias_hh"]
            if kind == "rnn":
                pre.append(z)
                hb = ACT[attrs["activation"]](z)
            else:
                i, f, g, o = (
                    _sigmoid(z[:h]),
                    _sigmoid(z[h : 2 * h]),
                    np.tanh(z[2 * h : 3 * h]),
                    _sigmoid(z[3 * h :]),
                )
                cb = f * cb + i * g
                hb = o * np.tanh(cb)
            seq[b, t] = hb
        last[b] = hb
    y = seq if attrs["return_sequences"] else last
    return y, np.concatenate(pre) if pre else np.zeros(1)


def make_case(kind, seed, dtype=np.float64, n_b=B, n_t=T, n_in=N_IN, h=H):
    rng = np.random.default_rng(seed)
    g = 4 * h if kind == "lstm" else h
    x = rng.normal(size=(n_b, n_t, n_in)).astype(dtype)
    params = {
        "kernel": rng.normal(scale=0.6, size=(n_in, g)).astype(dtype),
        "recurrent": rng.normal(scale=0.6, size=(h, g)).astype(dtype),
        "bias_ih": rng.normal(scale=0.3, size=g).astype(dtype),
        "bias_hh": rng.normal(scale=0.3, size=g).astype(dtype),
    }
    return x, params


def attrs_of(kind, seq, activation="tanh"):
    attrs = {"kind": kind, "units": H, "return_sequences": seq, "init": "glorot_uniform"}
    if kind == "rnn":
        attrs["activation"] = activation
    return attrs


def run(kind, attrs, x, params, lengths, r, need_dx=True, roles=ROLES):
    op = get_op(kind)
    ctx = RunContext(training=True, dtype=x.dtype.type, lengths=lengths)
    y, cache = op.forward(attrs, [x], params, ctx)
    grads = {role: np.full_like(params[role], np.nan) for role in roles}  # must be overwritten
    (dx,) = op.backward(attrs, r, cache, params, grads, [need_dx], ctx)
    return y, dx, grads


def numeric(kind, attrs, x, params, lengths, r, arr):
    op = get_op(kind)
    ctx = RunContext(training=True, lengths=lengths)
    return numeric_grad(lambda: np.sum(op.forward(attrs, [x], params, ctx)[0] * r), arr)


def assert_close(analytic, num, what):
    close(num, analytic, what)


LENGTHS = {
    "full": None,
    "sorted": np.array([5, 4, 2, 1]),
    "unsorted": np.array([2, 5, 0, 3]),  # a zero-length sample: zero state, zero output
}
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "identity"), ("lstm", None)]


@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("kind,act", CASES)
def test_gradients(kind, act, seq, lengths):
    lens = LENGTHS[lengths]
    attrs = attrs_of(kind, seq, act)
    for seed in range(100):  # relu: a case whose pre-activations keep away from the kink
        x, params = make_case(kind, seed)
        want, pre = reference(kind, attrs, x, params, lens)
        if act != "relu" or np.abs(pre).min() > 1e-3:
            break
    else:
        pytest.fail("no relu case away from the kink")
    r = np.random.default_rng(7).normal(size=want.shape)
    y, dx, grads = run(kind, attrs, x, params, lens, r)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert_close(dx, numeric(kind, attrs, x, params, lens, r, x), "dx")
    for role in ROLES:
        assert_close(grads[role], numeric(kind, attrs, x, params, lens, r, params[role]), role)


@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_padded_steps_change_nothing(kind, seq):
    lens = np.array([3, 5, 1, 4])
    attrs = attrs_of(kind, seq)
    x, params = make_case(kind, seed=3)
    padded = np.arange(T)[None, :] >= lens[:, None]  # (B, T)
    r = np.random.default_rng(1).normal(size=(B, T, H) if seq else (B, H))
    y, dx, grads = run(kind, attrs, x, params, lens, r)
    x2 = x.copy()
    x2[padded] = np.random.default_rng(2).normal(scale=100.0, size=(padded.sum(), N_IN))
    x2[0, 4] = np.nan  # even NaN padding never reaches a product
    y2, dx2, grads2 = run(kind, attrs, x2, params, lens, r)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(dx2, dx)
    for role in ROLES:
        np.testing.assert_array_equal(grads2[role], grads[role])
    assert np.all(dx[padded] == 0)
    if seq:
        assert np.all(y[padded] == 0)
        # the gradient arriving at padded outputs is ignored
        r3 = r.copy()
        r3[padded] = 1e6
        _, dx3, grads3 = run(kind, attrs, x, params, lens, r3)
        np.testing.assert_array_equal(dx3, dx)
        for role in ROLES:
            np.testing.assert_array_equal(grads3[role], grads[role])
    else:
        # many-to-one = the state at each sample's last real step = a truncated sequence's output
        for b in range(B):
            yb, _, _ = run(kind, attrs, x[b : b + 1, : lens[b]], params, None, r[b : b + 1])
            np.testing.assert_allclose(y[b], yb[0], rtol=1e-13, atol=1e-14)


def test_all_real_lengths_match_no_lengths():
    x, params = make_case("lstm", seed=5)
    r = np.random.default_rng(0).normal(size=(B, T, H))
    a = run("lstm", attrs_of("lstm", True), x, params, None, r)
    b = run("lstm", attrs_of("lstm", True), x, params, np.full(B, T), r)
    for u, v in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_float32_stays_float32_and_frozen_roles(kind):
    x, params = make_case(kind, seed=4, dtype=np.float32)
    r = np.ones((B, H), dtype=np.float32)
    y, dx, grads = run(kind, attrs_of(kind, False), x, params, np.array([5, 2, 3, 1]), r,
                       need_dx=False, roles=("recurrent",))  # fmt: skip
    assert y.dtype == np.float32 and grads["recurrent"].dtype == np.float32
    assert dx is None and set(grads) == {"recurrent"}
    x64, p64 = x.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}
    y64, _, g64 = run(
        kind, attrs_of(kind, False), x64, p64, np.array([5, 2, 3, 1]), r.astype(np.float64)
    )
    np.testing.assert_allclose(y, y64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["recurrent"], g64["recurrent"], rtol=1e-4, atol=1e-5)


def test_leaky_relu_rnn_gradient():
    attrs = {**attrs_of("rnn", True, "leaky_relu"), "alpha": 0.2}
    x, params = make_case("rnn", seed=8)
    r = np.random.default_rng(8).normal(size=(B, T, H))
    _, dx, grads = run("rnn", attrs, x, params, None, r)
    assert_close(dx, numeric("rnn", attrs, x, params, None, r, x), "dx")
    assert_close(
        grads["recurrent"],
        numeric("rnn", attrs, x, params, None, r, params["recurrent"]),
        "recurrent",
    )


def test_softmax_rnn_is_refused():
    attrs = attrs_of("rnn", False, "softmax")
    x, params = make_case("rnn", seed=0)
    with pytest.raises(ValueError, match="softmax"):
        get_op("rnn").forward(attrs, [x], params, RunContext())
    with pytest.raises(ShapeError, match="softmax") as info:
        get_op("rnn").infer(attrs, [("batch", T, N_IN)])
    assert info.value.key == "activation"


@pytest.mark.parametrize("bad", [np.array([6, 1, 1, 1]), np.array([-1, 2, 2, 2]), np.array([2, 2]),
                                 np.array([1.0, 2.0, 3.0, 4.0])])  # fmt: skip
def test_bad_lengths_are_refused(bad):
    x, params = make_case("lstm", seed=0)
    with pytest.raises(ValueError, match="lengths"):
        get_op("lstm").forward(attrs_of("lstm", True), [x], params, RunContext(lengths=bad))


@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("n_b,lengths", [(3, [0, 0, 0]), (0, []), (0, None)])
def test_empty_sequences_and_batches(kind, seq, n_b, lengths):
    """Zero-length samples give zero outputs and gradients; an empty batch runs."""
    x, params = make_case(kind, seed=1, n_b=n_b)
    lens = None if lengths is None else np.array(lengths, dtype=np.int64)
    shape = (n_b, T, H) if seq else (n_b, H)
    y, dx, grads = run(kind, attrs_of(kind, seq), x, params, lens, np.ones(shape))
    assert y.shape == shape and dx.shape == x.shape
    assert not np.any(y) and not np.any(dx)
    for role in ROLES:
        assert not np.any(grads[role])  # zeros, NaN prefill overwritten
