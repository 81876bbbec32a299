"""The lstm cell's compiled loops (kernels/lstm_loops.py) stand in for numpy's elementwise calls
(a float32 step's whole cell, the gates after numpy's tanh in float64, and each BPTT step's
gate gradients). Outputs, weight gradients and input gradients equal the numpy path's bit for
bit over the layouts the kernels have (full batches, variable lengths packed, a zero length, an
initial state, a state output, sequences out, bidirectional, inference), and a training run
ends with the same weights, once the numpy path computes the compiled float32 cell's tanh
(fast_tanh.reference, set by the autouse fixture); with numpy's own tanh the two agree to
float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

from netspec.kernels import compiled, fast_tanh, lstm_cell
from netspec.kernels.registry import RunContext, get_op
from test_compiled_kernels import _assert_same_bits, _both, record_loops, train_weights

pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (no Numba)")

B, T, N_IN, H = 6, 7, 3, 5


@pytest.fixture(autouse=True)
def numpy_path_with_the_compiled_tanh(monkeypatch):
    monkeypatch.setattr(lstm_cell, "numpy_tanh32", fast_tanh.reference)


LENGTHS = {
    "full batch": None,
    "lengths": np.array([7, 2, 5, 7, 1, 4]),
    "a zero length": np.array([3, 0, 7, 2, 2, 6]),
}
OUTPUTS = {"last h": {}, "sequences": {"return_sequences": True}, "state [h, c]": {"state_output": True}}


def _params(rng, dtype, bidirectional=False):
    p = {"kernel": rng.normal(0, 0.5, (N_IN, 4 * H)), "recurrent": rng.normal(0, 0.5, (H, 4 * H)),
         "bias_ih": rng.normal(0, 0.3, 4 * H), "bias_hh": rng.normal(0, 0.3, 4 * H)}  # fmt: skip
    if bidirectional:
        p.update({k + "_reverse": rng.normal(0, 0.5, v.shape) for k, v in list(p.items())})
    return {k: v.astype(dtype) for k, v in p.items()}


def _run(attrs, lengths, dtype, h0: bool, training=True):
    """forward (+ backward) of the lstm kernel on fixed random data; every result as an array."""
    rng = np.random.default_rng(3)
    params = _params(rng, dtype, attrs.get("bidirectional", False))
    xs = [rng.normal(size=(B, T, N_IN)).astype(dtype)]
    if h0:
        xs.append(rng.normal(size=(B, 2 * H)).astype(dtype))
    op = get_op("lstm")
    ctx = RunContext(training=training, dtype=dtype, lengths=lengths)
    y, cache = op.forward(attrs, [a.copy() for a in xs], params, ctx)
    out = {"y": np.array(y)}
    if training:
        dy = rng.normal(size=y.shape).astype(dtype)
        grads = {k: np.full_like(v, np.nan) for k, v in params.items()}
        dxs = op.backward(attrs, dy, cache, params, grads, [True] * len(xs), ctx)
        out |= {f"d{k}": v for k, v in grads.items()}
        out |= {f"dx{i}": np.array(d) for i, d in enumerate(dxs)}
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h0", [False, True], ids=["zero state", "initial state"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("lengths", LENGTHS)
def test_lstm_matches_numpy_bit_for_bit(lengths, output, h0, dtype):
    attrs = {"kind": "lstm", "units": H, "return_sequences": False} | OUTPUTS[output]
    fast, ref = _both(lambda: _run(attrs, LENGTHS[lengths], dtype, h0))
    _assert_same_bits(fast, ref)
    assert not any(np.isnan(v).any() for v in ref.values())  # every gradient was written


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_lstm_inference_matches_numpy_bit_for_bit(output, lengths):
    attrs = {"kind": "lstm", "units": H, "return_sequences": False} | OUTPUTS[output]
    _assert_same_bits(*_both(lambda: _run(attrs, LENGTHS[lengths], np.float32, True, training=False)))


@pytest.mark.parametrize("lengths", ["full batch", "lengths"])
def test_bidirectional_lstm_matches_numpy_bit_for_bit(lengths):
    attrs = {"kind": "lstm", "units": H, "return_sequences": True, "bidirectional": True}
    _assert_same_bits(*_both(lambda: _run(attrs, LENGTHS[lengths], np.float32, False)))


STACKED = [{"type": "lstm", "units": 6, "return_sequences": True}, {"type": "lstm", "units": 4},
           {"type": "dense", "units": 2}]  # fmt: skip


def test_lstm_training_ends_with_the_same_weights_on_either_path(monkeypatch):
    used = record_loops(monkeypatch, "lstm_loops")
    fast, ref = _both(lambda: train_weights([T, N_IN], STACKED, steps=4))
    assert fast == ref
    assert used == {"cell_forward", "cell_forward_inplace", "step_grads"}, used  # the loops did run


@pytest.mark.parametrize("lengths", ["full batch", "lengths"])
def test_lstm_with_numpys_tanh_agrees_to_float32_rounding(monkeypatch, lengths):
    """What a user sees between the paths in float32: numpy's tanh against the rational."""
    monkeypatch.setattr(lstm_cell, "numpy_tanh32", np.tanh)
    attrs = {"kind": "lstm", "units": H, "return_sequences": True}
    fast, ref = _both(lambda: _run(attrs, LENGTHS[lengths], np.float32, True))
    assert fast.keys() == ref.keys()
    for k in ref:
        np.testing.assert_allclose(fast[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert any(not np.array_equal(fast[k], ref[k]) for k in ref)  # two tanh functions did run
