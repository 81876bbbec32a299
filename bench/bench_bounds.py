"""What bounds the issue-7 workloads: the pieces of their hot kernels, each timed alone.

    python bench/bench_bounds.py            # 1 thread, min wall ms of --repeats runs

Sections (the numbers README's Performance section quotes):
- gemm: numpy (OpenBLAS) vs PyTorch (MKL) on the MLPs' products at batch 256, and
  onnxruntime's whole mlp_digits forward (netspec's export) against numpy's three products;
- conv2: cnn_mnist's second conv (16->32 at 14x14, batch 64) split into the steps its kernel
  runs per chunk (columns, GEMMs, copy-out, dy on wide rows, col2im), summed over the batch,
  with the GEMMs' GFLOP/s;
- winograd: the same conv2 forward as Winograd F(2x2, 3x3) (issue 7's idea), timed in its
  parts on chunks of 8 samples: its 16 products do 2.25x fewer multiplies than im2col's GEMM,
  and its input and output transforms are numpy passes with stride-2 slices;
- lstm: one step of lstm_seq (batch 32, 64 units, 8 inputs): the forward GEMM and the cell's
  elementwise calls, the backward GEMM;
- torch conv: PyTorch's first-layer conv (1 -> 32 at 28x28, as bench_kernels.py's first row)
  with and without oneDNN.
Wall time (PyTorch's oneDNN conv does not run on the calling thread, so CPU time would miss it).
Each piece runs on its own arrays, warm in cache, so the sums are lower than a kernel's time
inside a training step; they show where the time must go, not the step's total.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))


def best_ms(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def gemm_section(repeats: int) -> None:
    import torch

    import bench_train as bt

    rng = np.random.default_rng(0)
    print("## gemm (batch 256, ms)")
    mlp_digits = 0.0
    for m, k, n, what in [(256, 784, 256, "mlp_mnist 1"), (256, 64, 128, "mlp_digits 1"), (256, 128, 64, "mlp_digits 2"), (256, 64, 10, "mlp_digits 3")]:
        x, w = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        y = np.empty((m, n), np.float32)
        xt, wt, yt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(y)
        t_np = best_ms(lambda: np.matmul(x, w, out=y), repeats * 20)
        t_pt = best_ms(lambda: torch.mm(xt, wt, out=yt), repeats * 20)
        mlp_digits += t_np if what.startswith("mlp_digits") else 0.0
        print(f"{what:<14} {m}x{k} @ {k}x{n}: numpy {t_np:.3f}  torch {t_pt:.3f}  ({2 * m * k * n / t_np / 1e6:.0f} GFLOP/s numpy)")
    _, x, _, _, model = bt.netspec_side("mlp_digits")
    ort = bt.onnx_infer_fn(model, x[:256], 1)
    print(f"mlp_digits: onnxruntime whole forward {best_ms(ort, repeats * 20):.3f} vs numpy's three products {mlp_digits:.3f}")


def conv_section(repeats: int) -> None:
    from netspec.kernels import conv_wide
    from netspec.kernels.windows import window_2d

    n, c, f, hw, chunk = 64, 16, 32, 14, 16
    attrs = {"nd": 2, "kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1)}
    rng = np.random.default_rng(0)
    win, _ = window_2d(attrs, np.empty((n, c, hw, hw), np.float32))
    g = conv_wide.geometry(win)
    length, k = g.length, c * 9
    xp = rng.standard_normal((chunk, c, hw + 2, hw + 2), dtype=np.float32)
    cols = np.empty((chunk, k + 1, length), np.float32)
    cols[:, k] = 1
    w2 = rng.standard_normal((f, k + 1), dtype=np.float32)
    yw = np.empty((chunk, f, length), np.float32)
    y = np.empty((chunk, f, hw, hw), np.float32)
    dyw = np.zeros((chunk, f, length), np.float32)
    dy = rng.standard_normal((chunk, f, hw, hw), dtype=np.float32)
    dwt = np.empty((chunk, k + 1, f), np.float32)
    dcols = np.empty((chunk, k, length), np.float32)
    dxp = np.zeros((chunk, c, (hw + 2) ** 2), np.float32)

    q = conv_wide.phases(xp, g, None)
    dq = dxp.reshape(chunk, c, 1, -1)

    def col2im():
        conv_wide.col2im(dcols, g, dq)

    def dy_wide():
        conv_wide.valid(dyw, g)[...] = dy

    pieces = {
        "forward: columns (im2col)": (lambda: conv_wide.im2col(q, g, cols[:, :k]), 0),
        "forward: GEMM": (lambda: np.matmul(w2, cols, out=yw), 2 * chunk * f * (k + 1) * length),
        "forward: copy-out of valid positions": (lambda: y.__setitem__(Ellipsis, conv_wide.valid(yw, g)), 0),
        "backward: dy on wide rows": (dy_wide, 0),
        "backward: columns again": (lambda: conv_wide.im2col(q, g, cols[:, :k]), 0),
        "backward: dW GEMM (cols @ dy^T)": (lambda: np.matmul(cols, dyw.transpose(0, 2, 1), out=dwt), 2 * chunk * f * (k + 1) * length),
        "backward: dcols GEMM (W^T @ dy)": (lambda: np.matmul(w2[:, :k].T, dyw, out=dcols), 2 * chunk * f * k * length),
        "backward: col2im (9 adds)": (col2im, 0),
    }
    print(f"\n## conv2 of cnn_mnist ({c}->{f} at {hw}x{hw}, batch {n} in chunks of {chunk}; ms per batch)")
    for name, (fn, flops) in pieces.items():
        ms = best_ms(fn, repeats) * n / chunk
        rate = f"  ({flops * n / chunk / ms / 1e6:.0f} GFLOP/s)" if flops else ""
        print(f"{name:<40} {ms:6.3f}{rate}")


def winograd_section(repeats: int) -> None:
    """conv2's forward as Winograd F(2x2, 3x3): per 4x4 input tile (stride 2) d, V = B^T d B;
    per tap pair, M = U V over channels (one product per each of the 16 tile positions); per
    tile Y = A^T M A. The transforms run as numpy passes over strided slices (rows, then
    columns) on a (C, n, H, W) view, so the products see (C, n * tiles) operands."""
    n, c, f, hw, m = 64, 16, 32, 14, 8
    t = hw // 2  # tiles per axis
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((m, c, hw + 2, hw + 2), dtype=np.float32)
    u = rng.standard_normal((16, f, c), dtype=np.float32)  # transformed weights (computed once)
    rows = np.empty((4, c, m, t, hw + 2), np.float32)
    v = np.empty((4, 4, c, m, t, t), np.float32)
    prod = np.empty((16, f, m * t * t), np.float32)
    half = np.empty((2, 4, f, m, t, t), np.float32)
    y = np.empty((m, f, hw, hw), np.float32)

    def input_rows():  # B^T d: rows 2t .. 2t + 3 of every tile
        d = xp.transpose(1, 0, 2, 3)
        a = [d[:, :, i : i + 2 * t : 2] for i in range(4)]
        np.subtract(a[0], a[2], out=rows[0]), np.add(a[1], a[2], out=rows[1])
        np.subtract(a[2], a[1], out=rows[2]), np.subtract(a[1], a[3], out=rows[3])

    def input_cols():  # (B^T d) B: the same along the columns, stride 2 on the last axis
        b = [rows[..., j : j + 2 * t : 2] for j in range(4)]
        np.subtract(b[0], b[2], out=v[:, 0]), np.add(b[1], b[2], out=v[:, 1])
        np.subtract(b[2], b[1], out=v[:, 2]), np.subtract(b[1], b[3], out=v[:, 3])

    def output_rows():  # A^T M
        p = prod.reshape(4, 4, f, m, t, t)
        np.add(p[0], p[1], out=half[0]), np.add(half[0], p[2], out=half[0])
        np.subtract(p[1], p[2], out=half[1]), np.subtract(half[1], p[3], out=half[1])

    def output_cols():  # (A^T M) A, written into the output's even and odd positions
        yo = y.transpose(1, 0, 2, 3)
        for r in (0, 1):
            h = half[r]
            even, odd = yo[:, :, r::2, 0::2], yo[:, :, r::2, 1::2]
            np.add(h[0], h[1], out=even), np.add(even, h[2], out=even)
            np.subtract(h[1], h[2], out=odd), np.subtract(odd, h[3], out=odd)

    pieces = {
        "input transform, rows": input_rows,
        "input transform, columns (stride 2)": input_cols,
        "16 products U @ V": lambda: np.matmul(u, v.reshape(16, c, -1), out=prod),
        "output transform, rows": output_rows,
        "output transform, columns (stride 2)": output_cols,
    }
    print(f"\n## winograd F(2x2,3x3) forward of conv2 ({c}->{f} at {hw}x{hw}, batch {n} in chunks of {m}; ms per batch)")
    total = 0.0
    for name, fn in pieces.items():
        ms = best_ms(fn, repeats) * n / m
        total += ms
        rate = f"  ({2 * 16 * f * c * m * t * t * n / m / ms / 1e6:.0f} GFLOP/s)" if name.startswith("16") else ""
        print(f"{name:<40} {ms:6.3f}{rate}")
    print(f"{'total':<40} {total:6.3f}")


def lstm_section(repeats: int) -> None:
    from netspec.kernels.lstm_cell import cell

    h, b, n_in = 64, 32, 8
    k = n_in + h + 1
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4 * h, k), dtype=np.float32)
    xh = rng.standard_normal((k, b), dtype=np.float32)
    z = np.empty((4 * h, b), np.float32)
    u, cy = np.empty((4, h, b), np.float32), rng.standard_normal((2, h, b), dtype=np.float32)
    c_out, tc, h_out = (np.empty((h, b), np.float32) for _ in range(3))
    tmp = np.empty((2, h, b), np.float32)
    recur = rng.standard_normal((h, 4 * h), dtype=np.float32)
    dh = np.empty((h, b), np.float32)
    reps = repeats * 200
    fwd_gemm = best_ms(lambda: np.matmul(w, xh, out=z), reps) * 1e3
    cell_us = best_ms(lambda: cell(z.reshape(4, h, b), u, cy, c_out, tc, h_out, tmp), reps) * 1e3
    bwd_gemm = best_ms(lambda: np.matmul(recur, z, out=dh), reps) * 1e3
    print(f"\n## lstm step of lstm_seq (batch {b}, {h} units, {n_in} inputs; us)")
    print(f"forward GEMM [kernel|recurrent|bias] @ [x;h;1]  {fwd_gemm:6.1f}  ({2 * 4 * h * k * b / fwd_gemm / 1e3:.0f} GFLOP/s)")
    print(f"forward cell (8 elementwise calls)            {cell_us:6.1f}")
    print(f"backward GEMM recurrent @ dz                  {bwd_gemm:6.1f}")


def torch_conv_section(repeats: int) -> None:
    import torch

    x = torch.randn(64, 1, 28, 28)
    mod = torch.nn.Conv2d(1, 32, 3, padding="same")

    def both():
        y = mod(x)
        y.backward(torch.ones_like(y))

    print("\n## PyTorch first-layer conv (1->32 at 28x28, batch 64; ms)")
    for label, enabled in (("default (oneDNN)", True), ("torch.backends.mkldnn disabled", False)):
        with torch.backends.mkldnn.flags(enabled=enabled):
            fwd, fb = best_ms(lambda: mod(x), repeats), best_ms(both, repeats)
        print(f"{label:<32} forward {fwd:6.2f}  forward + backward {fb:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        gemm_section(args.repeats)
        conv_section(args.repeats)
        winograd_section(args.repeats)
        lstm_section(args.repeats)
        torch_conv_section(args.repeats)


if __name__ == "__main__":
    main()
