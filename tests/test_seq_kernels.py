"""gru, bidirectional rnn/lstm/gru and repeat kernels: float64 central-difference gradient checks
(with variable lengths and an initial state) and parity with torch.nn.GRU / RNN / LSTM
(bidirectional=True, pack_padded_sequence for lengths), forward and gradients."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import assert_close, numeric_grad

from netspec.kernels.registry import RunContext, get_op

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
LENGTHS = np.array([4, 1, 3])
WITH_EMPTY = np.array([4, 0, 3])  # a zero-length sample: its output is the initial state itself


def make_params(kind, n_in, h, rng, bidirectional=False, dtype=np.float64):
    g = GATES[kind] * h
    p = {"kernel": rng.normal(0, 0.5, (n_in, g)), "recurrent": rng.normal(0, 0.5, (h, g)),
         "bias_ih": rng.normal(0, 0.3, g), "bias_hh": rng.normal(0, 0.3, g)}  # fmt: skip
    if bidirectional:
        p.update({k + "_reverse": rng.normal(0, 0.5, v.shape) for k, v in list(p.items())})
    return {k: v.astype(dtype) for k, v in p.items()}


def attrs_of(kind, h, seq, bidirectional=False):
    a = {"kind": kind, "units": h, "return_sequences": seq, "bidirectional": bidirectional}
    return a | ({"activation": "tanh"} if kind == "rnn" else {})


def run(kind, attrs, xs, params, lengths, dy):
    op = get_op(kind)
    ctx = RunContext(training=True, dtype=xs[0].dtype, lengths=lengths)
    y, cache = op.forward(attrs, xs, params, ctx)
    grads = {k: np.empty_like(v) for k, v in params.items()}
    dxs = op.backward(attrs, dy, cache, params, grads, [True] * len(xs), ctx)
    return y, dxs, grads


@pytest.mark.parametrize("kind,seq,bidi,lengths,h0", [
    ("gru", True, False, None, False), ("gru", False, False, LENGTHS, True),
    ("gru", True, False, LENGTHS, True), ("gru", True, True, LENGTHS, False),
    ("gru", False, True, LENGTHS, False), ("rnn", True, True, LENGTHS, False),
    ("lstm", False, True, LENGTHS, False), ("lstm", True, True, None, False),
    ("rnn", True, False, LENGTHS, True), ("rnn", False, False, None, True),
    ("lstm", True, False, LENGTHS, True), ("lstm", False, False, LENGTHS, True),
    ("lstm", "state", False, LENGTHS, False), ("lstm", "state", False, None, True),
    ("lstm", False, False, WITH_EMPTY, True), ("lstm", "state", False, WITH_EMPTY, True),
    ("lstm", True, False, WITH_EMPTY, True), ("rnn", False, False, WITH_EMPTY, True),
    ("gru", False, False, WITH_EMPTY, True),
])  # fmt: skip
def test_gradients_float64(kind, seq, bidi, lengths, h0):
    """seq "state": an encoder's state output [h_T, c_T]; h0: an initial-state input."""
    rng = np.random.default_rng(1)
    b, t, n_in, h = 3, 4, 2, 3
    params = make_params(kind, n_in, h, rng, bidi)
    state = 2 * h if kind == "lstm" else h
    xs = [rng.normal(size=(b, t, n_in))] + ([rng.normal(size=(b, state))] if h0 else [])
    attrs = attrs_of(kind, h, seq is True, bidi) | ({"state_output": True} if seq == "state" else {})
    out_h = 2 * h if bidi or seq == "state" else h
    seq = seq is True
    w = rng.normal(size=(b, t, out_h) if seq else (b, out_h))
    if seq and lengths is not None:
        w *= np.arange(t)[None, :, None] < lengths[:, None, None]  # padded outputs are 0 anyway

    def loss():
        ctx = RunContext(training=True, dtype=np.float64, lengths=lengths)
        return float((get_op(kind).forward(attrs, xs, params, ctx)[0] * w).sum())

    _, dxs, grads = run(kind, attrs, [a.copy() for a in xs], params, lengths, w)
    for i, x in enumerate(xs):
        assert_close(numeric_grad(loss, x), dxs[i], f"{kind} input {i}")
    for role, arr in params.items():
        assert_close(numeric_grad(loss, arr), grads[role], f"{kind} {role}")


def test_repeat_gradient_float64():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4))
    w = rng.normal(size=(3, 5, 4))
    op = get_op("repeat")
    ctx = RunContext(dtype=np.float64)
    y, _ = op.forward({"length": 5}, [x], {}, ctx)
    assert y.shape == (3, 5, 4) and np.array_equal(y[:, 2], x)
    dx = op.backward({"length": 5}, w, None, {}, {}, [True], ctx)[0]
    assert_close(numeric_grad(lambda: float((op.forward({"length": 5}, [x], {}, ctx)[0] * w).sum()), x), dx, "repeat")
    named = {"length": "time", "input_axis": 1}
    assert op.forward(named, [x, np.zeros((3, 7, 1))], {}, ctx)[0].shape == (3, 7, 4)


# ---------------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch")
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
ROLES = {"kernel": "weight_ih", "recurrent": "weight_hh", "bias_ih": "bias_ih", "bias_hh": "bias_hh"}


def torch_module(kind, n_in, h, params, bidi):
    m = TORCH[kind](n_in, h, batch_first=True, bidirectional=bidi)
    with torch.no_grad():
        for suffix, tsuffix in [("", "_l0")] + ([("_reverse", "_l0_reverse")] if bidi else []):
            for role, name in ROLES.items():
                p = params[role + suffix]
                p = p.T if role in ("kernel", "recurrent") else p
                getattr(m, name + tsuffix).copy_(torch.from_numpy(np.ascontiguousarray(p)))
    return m


@pytest.mark.parametrize("kind", ["gru", "rnn", "lstm"])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("bidi", [True, False])
def test_torch_parity_with_lengths(kind, seq, bidi):
    rng = np.random.default_rng(3)
    b, t, n_in, h = 5, 6, 3, 4
    lengths = np.array([6, 2, 5, 1, 3])
    params = make_params(kind, n_in, h, rng, bidi, np.float32)
    x = rng.normal(size=(b, t, n_in)).astype(np.float32)
    x[np.arange(t)[None, :] >= lengths[:, None]] = 7.0  # garbage at padded steps
    out_h = 2 * h if bidi else h
    dy = rng.normal(size=(b, t, out_h) if seq else (b, out_h)).astype(np.float32)
    if seq:
        dy *= np.arange(t)[None, :, None] < lengths[:, None, None]
    y, dxs, grads = run(kind, attrs_of(kind, h, seq, bidi), [x], params, lengths, dy)

    m = torch_module(kind, n_in, h, params, bidi)
    xt = torch.from_numpy(x).requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
    out, state = m(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
    h_n = state[0] if kind == "lstm" else state
    ty = out if seq else torch.cat(list(h_n), dim=-1)  # (directions, B, H) -> (B, 2H)
    (ty * torch.from_numpy(dy)).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(dxs[0], xt.grad.numpy(), atol=1e-5, rtol=1e-4)
    for suffix, tsuffix in [("", "_l0")] + ([("_reverse", "_l0_reverse")] if bidi else []):
        for role, name in ROLES.items():
            g = getattr(m, name + tsuffix).grad.numpy()
            g = g.T if role in ("kernel", "recurrent") else g
            np.testing.assert_allclose(grads[role + suffix], g, atol=1e-4, rtol=1e-4, err_msg=role + suffix)


@pytest.mark.parametrize("kind", ["gru", "rnn", "lstm"])
def test_initial_state_matches_torch(kind):
    rng = np.random.default_rng(4)
    b, t, n_in, h = 3, 5, 2, 4
    params = make_params(kind, n_in, h, rng, dtype=np.float32)
    x = rng.normal(size=(b, t, n_in)).astype(np.float32)
    state = rng.normal(size=(b, 2 * h if kind == "lstm" else h)).astype(np.float32)
    dy = rng.normal(size=(b, t, h)).astype(np.float32)
    y, dxs, _ = run(kind, attrs_of(kind, h, True), [x, state], params, None, dy)
    m = torch_module(kind, n_in, h, params, False)
    ts = torch.from_numpy(state).requires_grad_(True)
    init = (ts[None, :, :h].contiguous(), ts[None, :, h:].contiguous()) if kind == "lstm" else ts[None]
    out, _ = m(torch.from_numpy(x), init)
    (out * torch.from_numpy(dy)).sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(dxs[1], ts.grad.numpy(), atol=1e-5, rtol=1e-4)
