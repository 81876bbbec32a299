"""What each matrix product of a workload's training step costs as the plan lays out its operands,
against the same product on contiguous copies (copies not counted).

OpenBLAS does not run every layout at one speed: in its small-matrix range (M * N * K up to
1e6) a transposed right operand ran ~1.3-1.8x slower on this project's machine, which is why
conv's dW product copies dy^T in that range (conv._copy_dy_t) and the recurrent kernels copy
their weights' transposes once a call. This lists the products where the layout costs most,
so a new kernel's transposed views show up before they are profiled by hand.

    python bench/gemm_layouts.py                         # all four workloads
    python bench/gemm_layouts.py --workloads cnn_mnist --top 4

Columns: the node, each operand's shape and layout (N: rows contiguous, T: a transposed view,
v: a vector), how many calls a step makes, their summed best-of-15 time as laid out and on
contiguous copies (1 BLAS thread).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from bench_train import WORKLOADS, netspec_side
from gemm_floor import _real_matmul, record
from profile_plan import random_input
from threadpoolctl import threadpool_limits

from netspec.training.loop import rng_tree


def _best_us(a, b, out, repeats: int = 15) -> float:
    _real_matmul(a, b, out=out)  # warm
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        _real_matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


def _layout(a: np.ndarray) -> str:
    if a.ndim < 2:
        return "v"
    if a.strides[-1] == a.itemsize:
        return "N"
    return "T" if a.strides[-2] == a.itemsize else "?"


def step_products(name: str) -> dict[tuple, list]:
    """(node, shapes and layouts) -> [calls, us as laid out, us contiguous] for one training step."""
    spec, _, _, _, model = netspec_side(name)
    plan, rngs = model.plan, rng_tree(0)
    x = random_input(model.graph, spec, spec.train.batch_size, np.random.default_rng(0), np.float32)

    def step():
        z = plan.forward_train(x, rngs["noise"])
        plan.backward(np.ones_like(z) / z.size)

    step()  # the plan's buffers exist before recording
    rows: dict[tuple, list] = {}
    for node, calls in record(plan, step).items():
        for a, b, out in calls:
            key = (node, a.shape, _layout(a), b.shape, _layout(b))
            fresh = None if out is None else np.empty(out.shape, out.dtype)
            row = rows.setdefault(key, [0, 0.0, 0.0])
            row[0] += 1
            row[1] += _best_us(a, b, out)
            row[2] += _best_us(np.ascontiguousarray(a), np.ascontiguousarray(b), fresh)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--top", type=int, default=6, help="products listed per workload")
    args = ap.parse_args(argv)
    with threadpool_limits(1):
        for name in args.workloads:
            rows = step_products(name)
            laid, contiguous = sum(r[1] for r in rows.values()), sum(r[2] for r in rows.values())
            print(f"{name}: a training step's products {laid:.0f} us as laid out, {contiguous:.0f} us contiguous")
            for key, (n, t_laid, t_cont) in sorted(rows.items(), key=lambda kv: kv[1][2] - kv[1][1])[: args.top]:
                node, sa, la, sb, lb = key
                print(f"  {node:14s} {str(sa):16s} {la} @ {str(sb):16s} {lb}  x{n:<3d} {t_laid:8.1f} us"
                      f"  contiguous {t_cont:8.1f} us")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
