"""What issue 7's targets leave for the non-GEMM work, against each workload's GEMM floor.

For each workload and mode, in one process at 1 BLAS thread:
- the competitor's time per batch (PyTorch training, onnxruntime inference at batch 256) and
  netspec's, from alternating rounds as bench_train.py measures them;
- the budget: the competitor's time / the target ratio (what netspec must reach);
- netspec's GEMM floor (gemm_floor.py): the plan's matrix products alone, each warm, summed;
- what the budget leaves for everything else (data movement, elementwise calls, the loop)
  against what netspec spends on it now (its time - its floor).

    python bench/bench_floors.py                     # all four workloads
    python bench/bench_floors.py --workloads cnn_mnist --rounds 5

A floor near or above the budget means no arrangement of the non-GEMM work meets the target
with these products; a small leftover budget says how few passes over memory it allows.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
from bench_train import INFER_BATCH, WORKLOADS, netspec_side, onnx_infer_fn, torch_side
from gemm_floor import floor_ms, gflop, record
from profile_plan import random_input
from threadpoolctl import threadpool_limits
from timing import alternate

from netspec.training.loop import rng_tree

TARGETS = {  # issue 7: (training ratio vs PyTorch, inference ratio vs onnxruntime)
    "mlp_digits": (2.0, 0.8),
    "mlp_mnist": (1.3, 0.8),
    "cnn_mnist": (1.5, 0.5),
    "lstm_seq": (1.2, 0.8),
}


def _ms_per(times: list[float], samples: int, batch: int) -> float:
    """Median seconds for `samples` -> ms per `batch` samples."""
    return 1e3 * statistics.median(times) * batch / samples


def floors(model, spec) -> tuple[dict, dict]:
    """GEMM floors (ms, GFLOP) of one training step at the spec's batch and one inference batch."""
    plan, rngs = model.plan, rng_tree(0)
    rng = np.random.default_rng(0)
    xt = random_input(model.graph, spec, spec.train.batch_size, rng, np.float32)
    xi = random_input(model.graph, spec, INFER_BATCH, rng, np.float32)

    def step():
        z = plan.forward_train(xt, rngs["noise"])
        plan.backward(np.ones_like(z) / z.size)

    out = []
    for call in (step, lambda: plan.predict(xi)):
        call()  # warm: the plan's buffers exist before recording
        calls = [c for per_node in record(plan, call).values() for c in per_node]
        out.append({"ms": floor_ms(calls), "gflop": gflop(calls), "products": len(calls)})
    return out[0], out[1]


def measure(name: str, rounds: int) -> list[dict]:
    spec, x, y, ns_epoch, model = netspec_side(name)
    pt_epoch, pt_infer = torch_side(name, spec, x, y)
    n, bs = len(x), spec.train.batch_size
    train = alternate({"netspec": ns_epoch, "pytorch": pt_epoch}, rounds)
    infer = alternate({"netspec": lambda: [model.predict(x[i : i + INFER_BATCH]) for i in range(0, n, INFER_BATCH)],
                       "onnxruntime": onnx_infer_fn(model, x, 1)}, rounds)  # fmt: skip
    f_train, f_infer = floors(model, spec)
    rows = []
    for mode, times, other, batch, target, fl in (
        ("train", train, "pytorch", bs, TARGETS[name][0], f_train),
        ("infer", infer, "onnxruntime", INFER_BATCH, TARGETS[name][1], f_infer),
    ):
        ours, theirs = _ms_per(times["netspec"], n, batch), _ms_per(times[other], n, batch)
        budget = theirs / target
        rows.append({"workload": name, "mode": mode, "batch": batch, "versus": other, "target": target,
                     "their_ms": theirs, "budget_ms": budget, "netspec_ms": ours, "ratio": theirs / ours,
                     "floor_ms": fl["ms"], "floor_gflops": fl["gflop"] / fl["ms"] * 1e3, "products": fl["products"],
                     "left_ms": budget - fl["ms"], "netspec_rest_ms": ours - fl["ms"]})  # fmt: skip
    return rows


def render(rows: list[dict]) -> str:
    lines = ["| workload | mode | vs | target | their ms | budget ms | netspec ms | ratio | GEMM floor ms (GFLOP/s) "
             "| floor / budget | budget left for the rest | netspec's rest |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['workload']} | {r['mode']} ({r['batch']}) | {r['versus']} | {r['target']} | {r['their_ms']:.3f} "
                     f"| {r['budget_ms']:.3f} | {r['netspec_ms']:.3f} | {r['ratio']:.2f} "
                     f"| {r['floor_ms']:.3f} ({r['floor_gflops']:.0f}) | {r['floor_ms'] / r['budget_ms']:.0%} "
                     f"| {r['left_ms']:.3f} | {r['netspec_rest_ms']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import torch

    rows = []
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        for name in args.workloads:
            rows += measure(name, args.rounds)
            print(f"{name} measured", file=sys.stderr, flush=True)
    print(render(rows))


if __name__ == "__main__":
    main()
