"""The lstm's weight-gradient product takes its operand in one layout up to batch 64 and in
another above (lstm_kernels.lstm_backward): a wide batch must give the gradients of its halves
summed, as the loss is a sum over samples."""

from __future__ import annotations

import numpy as np

from netspec.kernels.registry import RunContext, get_op

T, N_IN, H = 6, 3, 4


def _grads(x, dy, params):
    op = get_op("lstm")
    attrs = {"kind": "lstm", "units": H, "return_sequences": False}
    ctx = RunContext(training=True, dtype=np.float64)
    _, cache = op.forward(attrs, [x.copy()], params, ctx)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    op.backward(attrs, dy, cache, params, grads, [False], ctx)
    return grads


def test_a_batch_over_64_gives_its_halves_gradients_summed():
    rng = np.random.default_rng(0)
    params = {"kernel": rng.normal(0, 0.5, (N_IN, 4 * H)), "recurrent": rng.normal(0, 0.5, (H, 4 * H)),
              "bias_ih": rng.normal(0, 0.3, 4 * H), "bias_hh": rng.normal(0, 0.3, 4 * H)}  # fmt: skip
    x, dy = rng.normal(size=(100, T, N_IN)), rng.normal(size=(100, H))
    whole = _grads(x, dy, params)  # batch 100: the (K, te B) layout
    a, b = _grads(x[:50], dy[:50], params), _grads(x[50:], dy[50:], params)  # batch 50 each
    for k in params:
        np.testing.assert_allclose(whole[k], a[k] + b[k], rtol=1e-10, atol=1e-12, err_msg=k)
