"""What compiled kernels would buy issue 7's cnn_mnist: its training epoch and inference with the
non-GEMM work (columns, col2im, bias + relu + max pool, unpooling, the loss, the optimizer) in
Numba-compiled loops and the products still numpy's `matmul` (the same OpenBLAS), against
netspec's NumPy executor, PyTorch and onnxruntime in one process (alternating rounds, 1 thread).

A measurement for a dependency decision, not a netspec code path: netspec does not depend on
Numba and never imports this file. It needs `pip install numba`.

    python bench/probe_compiled.py                 # check against netspec, then time
    python bench/probe_compiled.py --rounds 9

Before timing, one batch's gradients and the inference outputs are checked against netspec's
plan on the same weights, so the probe computes the same network (it would not count otherwise).
The layout is channel-major across the batch, (C, n, H, W), with each conv's input zero-bordered
(the first pool writes the second conv's padded interior directly). A conv runs in chunks of
samples whose columns stay in cache: wide-row columns as netspec's conv_wide.py lays them out
(one contiguous run per kernel offset), one product W (F, 9C) @ cols (9C, m L) per chunk, and
bias + relu + 2x2 max pool over the products in one compiled pass (the backward: unpooling,
the dW product on recomputed columns, col2im). Loops index views from zero: `src[off + t]`
kept LLVM from vectorizing a copy (4x slower, measured). Only this fixed architecture (two 3x3 same convs + 2x2 pools, two dense layers,
softmax cross-entropy, SGD momentum) is written; nothing here generalizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - a bench script
    sys.exit("bench/probe_compiled.py needs Numba (pip install numba); netspec itself does not use it")

from bench_train import INFER_BATCH, netspec_side, onnx_infer_fn, torch_side
from threadpoolctl import threadpool_limits
from timing import alternate


@njit(cache=True)
def pad_into(x, xp, wp):
    """x (C, n, H, W) -> the interior of xp (C, n, (H + 2) * wp) (its zero border is kept)."""
    C, n, H, W = x.shape
    for c in range(C):
        for s in range(n):
            for h in range(H):
                o = (h + 1) * wp + 1
                for w in range(W):
                    xp[c, s, o + w] = x[c, s, h, w]


@njit(cache=True)
def im2col(xp, wp, s0, cols):
    """Wide-row columns of samples s0 .. s0 + m: cols[(c, i, j), s, :] = xp[c, s0 + s] from offset
    i wp + j, one contiguous run per row (positions on the padded row pitch wp, as conv_wide.py)."""
    C, m, L = xp.shape[0], cols.shape[1], cols.shape[2]
    for c in range(C):
        for i in range(3):
            for j in range(3):
                r, off = (c * 3 + i) * 3 + j, i * wp + j
                for s in range(m):
                    src, dst = xp[c, s0 + s, off:], cols[r, s]
                    for t in range(L):
                        dst[t] = src[t]


@njit(cache=True)
def col2im(dcols, wp, s0, dxp):
    """The adjoint of im2col: dxp[:, s0 .. s0 + m] <- the column gradients added back (zeroed first)."""
    C, m, L = dxp.shape[0], dcols.shape[1], dcols.shape[2]
    for c in range(C):
        for s in range(m):
            dst = dxp[c, s0 + s]
            dst[:] = 0
            for i in range(3):
                for j in range(3):
                    src, out = dcols[(c * 3 + i) * 3 + j, s], dst[i * wp + j :]
                    for t in range(L):
                        out[t] += src[t]


@njit(cache=True)
def bias_relu_pool(y, b, wp, s0, out, win):
    """y (F, m, L) wide-row conv products of samples s0 .. s0 + m -> out[f, s0 + s, i, j] =
    relu(max of the 2x2 window + b[f]) (out may be any view, e.g. the next conv's padded
    interior); win <- the winner 0..3, 255 where the relu cut it (no gradient)."""
    F, m = y.shape[0], y.shape[1]
    ho, wo = out.shape[2], out.shape[3]
    for f in range(F):
        bf = b[f]
        for s in range(m):
            for i in range(ho):
                ra, rb = y[f, s, 2 * i * wp :], y[f, s, (2 * i + 1) * wp :]
                orow, wrow = out[f, s0 + s, i], win[f, s0 + s, i]
                for j in range(wo):
                    mx, k = ra[2 * j], 0
                    if ra[2 * j + 1] > mx:
                        mx, k = ra[2 * j + 1], 1
                    if rb[2 * j] > mx:
                        mx, k = rb[2 * j], 2
                    if rb[2 * j + 1] > mx:
                        mx, k = rb[2 * j + 1], 3
                    mx += bf  # the bias is one per channel: the max of y + b is max(y) + b
                    if mx > 0:
                        orow[j], wrow[j] = mx, k
                    else:
                        orow[j], wrow[j] = 0, 255


@njit(cache=True)
def unpool(dp, win, wp, s0, dy, db):
    """dy (F, m, L) wide rows <- dp[:, s0 .. s0 + m] (F, n, Ho, Wo, any view) at each window's
    winner, 0 at the other valid positions (the garbage ones stay 0); db += what passed."""
    F, m = dy.shape[0], dy.shape[1]
    ho, wo = dp.shape[2], dp.shape[3]
    for f in range(F):
        acc = 0.0
        for s in range(m):
            for i in range(ho):
                ra, rb = dy[f, s, 2 * i * wp :], dy[f, s, (2 * i + 1) * wp :]
                grow, wrow = dp[f, s0 + s, i], win[f, s0 + s, i]
                for j in range(wo):
                    ra[2 * j] = 0
                    ra[2 * j + 1] = 0
                    rb[2 * j] = 0
                    rb[2 * j + 1] = 0
                    k = wrow[j]
                    if k != 255:
                        g = grow[j]
                        (ra if k < 2 else rb)[2 * j + (k & 1)] = g
                        acc += g
        db[f] += acc


class ConvBlock:
    """conv 3x3 same -> relu -> max_pool 2 on a zero-bordered input xp (C, n, (H + 2) (W + 2)), in
    chunks of samples whose columns and products stay in cache."""

    def __init__(self, w, b, gw, gb, hw: int, budget: int = 1 << 20):
        self.w, self.b, self.gw, self.gb = w, b, gw, gb
        self.wp = hw + 2
        self.length = (hw - 1) * self.wp + hw  # positions of a wide row
        self.step = max(1, budget // ((w.shape[1] + w.shape[0]) * self.length * 4))
        self.buf = {}

    def _b(self, key, shape, zero=False):
        a = self.buf.get((key, shape))
        if a is None:
            a = self.buf[(key, shape)] = (np.zeros if zero else np.empty)(shape, np.float32)
        return a

    def forward(self, xp, out, win):
        n, K, F, L = xp.shape[1], self.w.shape[1], self.w.shape[0], self.length
        self.xp = xp
        for s0 in range(0, n, self.step):
            m = min(self.step, n - s0)
            cols = self._b(("cols", m), (K, m, L))
            im2col(xp, self.wp, s0, cols)
            y = np.matmul(self.w, cols.reshape(K, -1), out=self._b(("y", m), (F, m * L)))
            bias_relu_pool(y.reshape(F, m, L), self.b, self.wp, s0, out, win)

    def backward(self, dp, win, dxp):
        """dp (F, n, Ho, Wo) -> the weight and bias gradients; dxp (C, n, padded) when not None."""
        xp = self.xp
        n, K, F, L = xp.shape[1], self.w.shape[1], self.w.shape[0], self.length
        self.gb[...] = 0
        # dW^T = cols @ dy^T: measured ~28% faster than dy @ cols^T for conv2's chunks
        gwt, part = self._b("gwt", (K, F), zero=True), self._b("part", (K, F))
        gwt.fill(0)
        for s0 in range(0, n, self.step):
            m = min(self.step, n - s0)
            dy = self._b(("dy", m), (F, m, L), zero=True)
            unpool(dp, win, self.wp, s0, dy, self.gb)
            cols = self._b(("cols", m), (K, m, L))
            im2col(xp, self.wp, s0, cols)
            gwt += np.matmul(cols.reshape(K, -1), dy.reshape(F, -1).T, out=part)
            if dxp is not None:
                dc = np.matmul(self.w.T, dy.reshape(F, -1), out=self._b(("dc", m), (K, m * L)))
                col2im(dc.reshape(K, m, L), self.wp, s0, dxp)
        self.gw[...] = gwt.T


@njit(cache=True)
def bias_relu(z, b):
    n, m = z.shape
    for r in range(n):
        for c in range(m):
            v = z[r, c] + b[c]
            z[r, c] = v if v > 0 else 0


@njit(cache=True)
def relu_grad(dz, a):
    n, m = dz.shape
    for r in range(n):
        for c in range(m):
            if a[r, c] <= 0:
                dz[r, c] = 0


@njit(cache=True)
def softmax_xent(z, b, y, dz):
    """z (n, K) + b -> probabilities into dz; with labels y (len n), dz <- (p - onehot) / n and
    the mean loss is returned (y of length 0: probabilities only)."""
    n, K = z.shape
    loss = 0.0
    for r in range(n):
        m = -np.inf
        for c in range(K):
            dz[r, c] = z[r, c] + b[c]
            m = max(m, dz[r, c])
        t = 0.0
        for c in range(K):
            dz[r, c] = np.exp(dz[r, c] - m)
            t += dz[r, c]
        for c in range(K):
            dz[r, c] /= t
        if len(y):
            loss -= np.log(max(dz[r, y[r]], 1e-30))
            dz[r, y[r]] -= 1
            for c in range(K):
                dz[r, c] /= n
    return loss / max(n, 1)


@njit(cache=True)
def sgd_momentum(w, v, g, lr, mu):
    for k in range(w.size):
        v[k] = mu * v[k] + g[k]
        w[k] -= lr * v[k]


class Probe:
    """cnn_mnist with the kernels above; weights copied from a netspec store (same names)."""

    NAMES = ["conv2d_1.weight", "conv2d_1.bias", "conv2d_2.weight", "conv2d_2.bias",
             "dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"]  # fmt: skip

    def __init__(self, values: dict, lr: float, mu: float = 0.9):
        sizes = [values[k].size for k in self.NAMES]
        self.flat, self.grad, self.vel = (np.zeros(sum(sizes), np.float32) for _ in range(3))
        self.p, self.g, off = {}, {}, 0
        for k, size in zip(self.NAMES, sizes):
            shape = values[k].shape if "conv" not in k or "bias" in k else (values[k].shape[0], -1)
            self.p[k] = self.flat[off : off + size].reshape(shape)
            self.g[k] = self.grad[off : off + size].reshape(shape)
            self.p[k][...] = values[k].reshape(self.p[k].shape)
            off += size
        self.lr, self.mu, self.buf = lr, mu, {}
        self.conv1 = ConvBlock(self.p["conv2d_1.weight"], self.p["conv2d_1.bias"], self.g["conv2d_1.weight"],
                               self.g["conv2d_1.bias"], 28)  # fmt: skip
        self.conv2 = ConvBlock(self.p["conv2d_2.weight"], self.p["conv2d_2.bias"], self.g["conv2d_2.weight"],
                               self.g["conv2d_2.bias"], 14)  # fmt: skip

    def _b(self, key, shape, dtype=np.float32, zero=False):
        a = self.buf.get((key, shape))  # by shape: an epoch's last, smaller batch keeps its own
        if a is None:
            a = self.buf[(key, shape)] = (np.zeros if zero else np.empty)(shape, dtype)
        return a

    def forward(self, x):
        n, p = len(x), self.p
        xp1 = self._b("xp1", (1, n, 30 * 30), zero=True)
        pad_into(x.reshape(1, n, 28, 28), xp1, 30)
        xp2 = self._b("xp2", (16, n, 16 * 16), zero=True)  # conv2's padded input: pool1 writes its interior
        w1 = self._b("w1", (16, n, 14, 14), np.uint8)
        self.conv1.forward(xp1, xp2.reshape(16, n, 16, 16)[:, :, 1:15, 1:15], w1)
        a2, w2 = self._b("a2", (n, 32, 7, 7)), self._b("w2", (32, n, 7, 7), np.uint8)
        self.conv2.forward(xp2, a2.transpose(1, 0, 2, 3), w2)
        h = np.matmul(a2.reshape(n, -1), p["dense_1.weight"], out=self._b("h", (n, 128)))
        bias_relu(h, p["dense_1.bias"])
        self.h, self.a2, self.w1, self.w2 = h, a2, w1, w2  # for the backward
        return np.matmul(h, p["dense_2.weight"], out=self._b("z", (n, 10)))

    def step(self, x, y) -> float:
        n, p, g, b = len(x), self.p, self.g, self._b
        z = self.forward(x)
        dz = b("dz", (n, 10))
        loss = softmax_xent(z, p["dense_2.bias"], y, dz)
        h, flat = self.h, self.a2.reshape(n, -1)
        np.matmul(h.T, dz, out=g["dense_2.weight"])
        np.sum(dz, axis=0, out=g["dense_2.bias"])
        dh = np.matmul(dz, p["dense_2.weight"].T, out=b("dh", (n, 128)))
        relu_grad(dh, h)
        np.matmul(flat.T, dh, out=g["dense_1.weight"])
        np.sum(dh, axis=0, out=g["dense_1.bias"])
        dflat = np.matmul(dh, p["dense_1.weight"].T, out=b("dflat", (n, 1568)))
        dxp2 = b("dxp2", (16, n, 16 * 16))
        self.conv2.backward(dflat.reshape(n, 32, 7, 7).transpose(1, 0, 2, 3), self.w2, dxp2)
        self.conv1.backward(dxp2.reshape(16, n, 16, 16)[:, :, 1:15, 1:15], self.w1, None)  # no dX: a first layer
        sgd_momentum(self.flat, self.vel, self.grad, self.lr, self.mu)
        return loss

    def predict(self, x):
        z = self.forward(x)
        out = np.empty_like(z)
        softmax_xent(z, self.p["dense_2.bias"], np.zeros(0, np.int64), out)
        return out


class DenseProbe:
    """A relu dense chain ending in softmax (mlp_digits, mlp_mnist) for inference: numpy's
    products, the bias + relu and the softmax compiled."""

    def __init__(self, values: dict, layers: int):
        self.wb = [(values[f"dense_{k}.weight"], values[f"dense_{k}.bias"]) for k in range(1, layers + 1)]
        self.buf = {}

    def predict(self, x):
        h = x
        for k, (w, b) in enumerate(self.wb):
            key = (k, len(x))
            if key not in self.buf:
                self.buf[key] = np.empty((len(x), w.shape[1]), np.float32)
            z = np.matmul(h, w, out=self.buf[key])
            if k < len(self.wb) - 1:
                bias_relu(z, b)
                h = z
        out = np.empty_like(z)
        softmax_xent(z, self.wb[-1][1], np.zeros(0, np.int64), out)
        return out


def check(probe: Probe, model, x, y) -> tuple[float, float]:
    """Largest relative gradient difference against netspec's plan on one batch (weights as
    the probe's, no update), and the largest inference-output difference."""
    plan, store = model.plan, model.store
    xb, yb = x[:64], y[:64]
    z = plan.forward_train(xb, np.random.default_rng(0))
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(64), yb] -= 1
    plan.backward((p / 64).astype(np.float32))
    saved = probe.flat.copy(), probe.vel.copy()
    probe.step(xb, yb)
    probe.flat[...], probe.vel[...] = saved
    worst = max(float(np.abs(probe.g[k].ravel() - store.grads[k].ravel()).max() / np.abs(store.grads[k]).max())
                for k in Probe.NAMES)  # fmt: skip
    return worst, float(np.abs(probe.predict(x[:256]) - model.predict(x[:256])).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        spec, x, y, ns_epoch, model = netspec_side("cnn_mnist")
        probe = Probe(model.store.values, spec.train.optimizer.learning_rate)
        grad_diff, out_diff = check(probe, model, x, y)
        print(f"check against netspec: gradients max rel diff {grad_diff:.1e}, inference max abs diff {out_diff:.1e}")
        if grad_diff > 1e-3 or out_diff > 1e-4:
            sys.exit("the probe does not compute netspec's network; not timing it")
        pt_epoch, pt_infer = torch_side("cnn_mnist", spec, x, y)
        rng, bs, n = np.random.default_rng(0), spec.train.batch_size, len(x)

        def probe_epoch():
            order = rng.permutation(n)
            for i in range(0, n, bs):
                idx = order[i : i + bs]
                probe.step(x[idx], y[idx])

        train = alternate({"probe": probe_epoch, "netspec": ns_epoch, "pytorch": pt_epoch}, args.rounds)
        infer = alternate({"probe": lambda: [probe.predict(x[i : i + INFER_BATCH]) for i in range(0, n, INFER_BATCH)],
                           "netspec": lambda: [model.predict(x[i : i + INFER_BATCH]) for i in range(0, n, INFER_BATCH)],
                           "onnxruntime": onnx_infer_fn(model, x, 1)}, args.rounds)  # fmt: skip
        mlp = {}
        for name in ("mlp_digits", "mlp_mnist"):
            _, xm, _, _, mm = netspec_side(name)
            dense = DenseProbe(mm.store.values, 3)
            diff = float(np.abs(dense.predict(xm[:256]) - mm.predict(xm[:256])).max())
            print(f"check against netspec: {name} inference max abs diff {diff:.1e}")
            if diff > 1e-5:
                sys.exit("the dense probe does not compute netspec's network; not timing it")
            mlp[name] = (len(xm), alternate({
                "probe": lambda: [dense.predict(xm[i : i + INFER_BATCH]) for i in range(0, len(xm), INFER_BATCH)],
                "netspec": lambda: [mm.predict(xm[i : i + INFER_BATCH]) for i in range(0, len(xm), INFER_BATCH)],
                "onnxruntime": onnx_infer_fn(mm, xm, 1)}, args.rounds))  # fmt: skip
    rows = [("cnn_mnist", "train", n, train, "pytorch", 1.5), ("cnn_mnist", "infer", n, infer, "onnxruntime", 0.5)]
    rows += [(name, "infer", k, t, "onnxruntime", 0.8) for name, (k, t) in mlp.items()]
    for name, mode, n, times, vs, target in rows:
        rate = {k: n / statistics.median(v) for k, v in times.items()}
        print(f"{name:<10} {mode}: probe {rate['probe']:8,.0f}/s  netspec {rate['netspec']:8,.0f}/s  {vs} "
              f"{rate[vs]:8,.0f}/s  probe/{vs} {rate['probe'] / rate[vs]:.2f}  netspec/{vs} "
              f"{rate['netspec'] / rate[vs]:.2f}  (target {target})")  # fmt: skip


if __name__ == "__main__":
    main()
