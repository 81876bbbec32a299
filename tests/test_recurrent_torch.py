"""rnn / lstm kernels against torch.nn.RNN / torch.nn.LSTM (batch_first=True), forward and
gradients, float32; variable lengths against pack_padded_sequence.

Weight mapping: torch weight_ih (G, in) = kernel.T, weight_hh (G, H) = recurrent.T, bias_ih and
bias_hh as they are (gate order i, f, g, o in both).
"""

from __future__ import annotations

import numpy as np
import pytest

from netspec.kernels.registry import RunContext, get_op

torch = pytest.importorskip("torch")

ATOL, RTOL = 1e-4, 1e-4
ROLES = {
    "kernel": "weight_ih_l0",
    "recurrent": "weight_hh_l0",
    "bias_ih": "bias_ih_l0",
    "bias_hh": "bias_hh_l0",
}


def torch_module(kind, n_in, h, activation, params):
    if kind == "lstm":
        m = torch.nn.LSTM(n_in, h, batch_first=True)
    else:
        m = torch.nn.RNN(n_in, h, nonlinearity=activation, batch_first=True)
    with torch.no_grad():
        for role, name in ROLES.items():
            p = params[role].T if role in ("kernel", "recurrent") else params[role]
            getattr(m, name).copy_(torch.from_numpy(np.ascontiguousarray(p)))
    return m


def torch_run(m, kind, x, lengths, seq, dy):
    """Outputs (zeros at padded steps; the last real step for many-to-one) and gradients."""
    xt = torch.from_numpy(x).requires_grad_(True)
    if lengths is None:
        out, state = m(xt)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
        )
        out, state = m(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=x.shape[1]
        )
    h_n = state[0] if kind == "lstm" else state
    y = out if seq else h_n[0]
    (y * torch.from_numpy(dy)).sum().backward()
    grads = {role: getattr(m, name).grad.numpy() for role, name in ROLES.items()}
    grads["kernel"], grads["recurrent"] = grads["kernel"].T, grads["recurrent"].T
    return y.detach().numpy(), xt.grad.numpy(), grads


def netspec_run(kind, attrs, x, params, lengths, dy):
    op = get_op(kind)
    ctx = RunContext(training=True, dtype=x.dtype.type, lengths=lengths)
    y, cache = op.forward(attrs, [x], params, ctx)
    grads = {role: np.empty_like(v) for role, v in params.items()}
    (dx,) = op.backward(attrs, dy, cache, params, grads, [True], ctx)
    return y, dx, grads


def case(kind, n_b, n_t, n_in, h, seed):
    rng = np.random.default_rng(seed)
    g = 4 * h if kind == "lstm" else h
    bound = 1 / np.sqrt(h)  # torch's default init range
    params = {
        "kernel": rng.uniform(-bound, bound, (n_in, g)),
        "recurrent": rng.uniform(-bound, bound, (h, g)),
        "bias_ih": rng.uniform(-bound, bound, g),
        "bias_hh": rng.uniform(-bound, bound, g),
    }
    x = rng.normal(size=(n_b, n_t, n_in))
    return x.astype(np.float32), {k: v.astype(np.float32) for k, v in params.items()}


def compare(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("lengths", [None, "varied"])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("kind,activation", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None)])
def test_matches_torch(kind, activation, seq, lengths):
    n_b, n_t, n_in, h = 6, 9, 5, 7
    x, params = case(kind, n_b, n_t, n_in, h, seed=17)
    lens = None if lengths is None else np.array([9, 4, 7, 1, 9, 2], dtype=np.int64)
    attrs = {"kind": kind, "units": h, "return_sequences": seq}
    if kind == "rnn":
        attrs["activation"] = activation
    dy = np.random.default_rng(3).normal(size=(n_b, n_t, h) if seq else (n_b, h)).astype(np.float32)
    y, dx, grads = netspec_run(kind, attrs, x, params, lens, dy)
    m = torch_module(kind, n_in, h, activation or "tanh", params)
    ty, tdx, tgrads = torch_run(m, kind, x, lens, seq, dy)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    compare(y, ty, "output")
    compare(dx, tdx, "dx")
    for role in ROLES:
        compare(grads[role], tgrads[role], role)
    if lens is not None and seq:
        padded = np.arange(n_t)[None, :] >= lens[:, None]
        assert np.all(y[padded] == 0) and np.all(dx[padded] == 0)


def test_lstm_long_sequence_float64_matches_torch():
    """A longer, wider case in float64: tight agreement over many steps."""
    x, params = case("lstm", 8, 40, 6, 16, seed=5)
    x, params = x.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}
    lens = np.array([40, 13, 27, 40, 5, 31, 39, 2], dtype=np.int64)
    attrs = {"kind": "lstm", "units": 16, "return_sequences": False}
    dy = np.random.default_rng(4).normal(size=(8, 16))
    y, dx, grads = netspec_run("lstm", attrs, x, params, lens, dy)
    m = torch_module("lstm", 6, 16, None, params).double()
    ty, tdx, tgrads = torch_run(m, "lstm", x, lens, False, dy)
    np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tdx, rtol=1e-9, atol=1e-11)
    for role in ROLES:
        np.testing.assert_allclose(grads[role], tgrads[role], rtol=1e-9, atol=1e-11, err_msg=role)
