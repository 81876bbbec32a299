"""The float32 rational tanh of the compiled LSTM cell (kernels/fast_tanh.py): close to tanh,
shaped like it (odd, monotone to 8 ulp, bounded by 1, NaN kept), and computed by the compiled loop
exactly as the numpy reference computes it."""

from __future__ import annotations

import numpy as np
import pytest

from netspec.kernels import compiled, fast_tanh

SWEEP = np.concatenate([np.linspace(-12, 12, 1_000_001, dtype=np.float32),
                        np.geomspace(1e-38, 1, 50_000).astype(np.float32)])  # fmt: skip


def test_within_6_ulp_of_tanh():
    exact = np.tanh(SWEEP.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(fast_tanh.reference(SWEEP).astype(np.float64) - exact) / ulp
    assert err.max() <= 6.0
    assert np.median(err) <= 1.0


def test_odd_monotone_and_bounded():
    x = np.sort(np.concatenate([SWEEP, -SWEEP]))
    t = fast_tanh.reference(x)
    assert np.array_equal(fast_tanh.reference(-x), -t)
    # float32 rounding in P and Q near +-1 lets neighbours step back by up to 8 ulp (4.8e-7)
    assert np.diff(t).min() >= -8 * np.spacing(np.float32(0.99))
    assert np.abs(t).max() == 1.0
    assert fast_tanh.reference(np.float32(0)) == 0
    tiny = np.float32(1e-30)
    assert fast_tanh.reference(tiny) == tiny  # tanh(x) = x to float32 precision near 0


def test_specials():
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 9.5], np.float32)
    t = fast_tanh.reference(x)
    assert np.isnan(t[0])
    assert list(t[1:]) == [1, -1, 1, -1, 1]


@pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (no Numba)")
@pytest.mark.parametrize("in_place", [False, True], ids=["z apart", "z in G (inference)"])
def test_compiled_cell_computes_the_reference_bit_for_bit(in_place):
    """lstm_loops.cell_forward(_inplace) against the cell's formulas on fast_tanh.reference,
    over values that reach the clamps and carry NaN and inf."""
    rng = np.random.default_rng(0)
    m = 257
    z = (rng.standard_normal((4, m)) * 6).astype(np.float32)
    z[:, :4] = [[np.nan], [np.inf], [-np.inf], [20.0]]
    z[3, 4] = -0.0  # g = tanh(-0) = -0, as numpy's path keeps it
    cp = (rng.standard_normal(m) * 3).astype(np.float32)
    G, CY = np.zeros((4, m + 3), np.float32), np.zeros((2, m + 3), np.float32)
    CY[1, 3:] = cp
    c, tc, h = (np.empty(m, np.float32) for _ in range(3))
    loops = compiled.lstm_loops()
    if in_place:
        G[:, 3:] = z
        loops.cell_forward_inplace(G, CY, 3, m + 3, c, tc, h, np.float32(0.5))
    else:
        loops.cell_forward(z, G, CY, 3, m + 3, c, tc, h, np.float32(0.5))

    half = np.float32(0.5)
    u = fast_tanh.reference(z)
    o, i, f = (u[k] * half + half for k in range(3))
    g = u[3]
    c_ref = i * g + f * cp
    tc_ref = fast_tanh.reference(c_ref)
    expected = {"G": np.stack([o, i, f, g]), "CY[0]": g, "c": c_ref, "tc": tc_ref, "h": o * tc_ref}
    got = {"G": G[:, 3:], "CY[0]": CY[0, 3:], "c": c, "tc": tc, "h": h}
    for k, want in expected.items():
        assert np.array_equal(got[k], want, equal_nan=True), k
    assert np.isnan(G[0, 3]) and G[1, 4] == 1 and G[2, 5] == 0 and G[3, 6] == 1  # NaN kept, clamps
    assert np.signbit(G[3, 3 + 4]) and np.signbit(CY[0, 3 + 4])


@pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (no Numba)")
def test_recurrent_tanh_and_sigmoid_take_the_rational_only_for_float32():
    """compiled.tanh_cols and sigmoid_cols (the rnn's and the gru's): the rational on the
    column range of contiguous float32 rows, the rest untouched; numpy's tanh for float64
    (gradient checks) and for arrays whose rows are not contiguous."""
    x = (np.random.default_rng(1).standard_normal((33, 20)) * 4).astype(np.float32)
    a = x.copy()
    compiled.tanh_cols(a, 5, 12)
    assert np.array_equal(a[:, 5:12], fast_tanh.reference(x[:, 5:12]))
    assert np.array_equal(a[:, :5], x[:, :5]) and np.array_equal(a[:, 12:], x[:, 12:])
    a = x.copy()
    compiled.sigmoid_cols(a, 0, 8)
    half = np.float32(0.5)
    assert np.array_equal(a[:, :8], fast_tanh.reference(x[:, :8] * half) * half + half)
    assert np.array_equal(a[:, 8:], x[:, 8:])
    d = x.astype(np.float64)
    compiled.tanh_cols(d, 0, 20)
    assert np.array_equal(d, np.tanh(x.astype(np.float64)))
    t = x.T.copy().T  # rows not contiguous
    compiled.tanh_cols(t, 0, 20)
    assert np.array_equal(t, np.tanh(x))
