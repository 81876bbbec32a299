"""What recording gradient norms (gradients.csv) costs: training epochs of the digits MLP and CNN
with and without the recorder, in one process, alternating rounds, medians compared; plus the
recorder's own per-step cost timed alone. Times are this process's CPU time (one BLAS thread),
so other processes on a busy machine disturb them less than wall-clock time would.

    python bench/bench_gradnorms.py              # 1 BLAS thread, 9 rounds
    python bench/bench_gradnorms.py --markdown   # the README table
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import netspec
from netspec.data import load_splits
from netspec.executor import ParamStore, Plan
from netspec.training.loop import Trainer, rng_tree

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("digits_mlp.toml", "digits_cnn.toml")


def trainer(spec, splits, record: bool) -> Trainer:
    graph = netspec.compile(spec).graph
    rngs = rng_tree(spec.seed)
    plan = Plan(graph, ParamStore.create(graph, np.float32, rngs["init"], spec.train.l1, spec.train.l2))
    return Trainer(plan, spec.train, seed=spec.seed, epochs=10_000, task=spec.train.task, rngs=rngs,
                   record_gradients=record)  # fmt: skip


def bench(name: str, rounds: int) -> dict:
    spec = netspec.load(ROOT / "specs" / name)
    splits = load_splits(spec, ROOT / "specs", dtype=np.float32, n_outputs=10)
    on, off = trainer(spec, splits, True), trainer(spec, splits, False)
    times: dict[str, list[float]] = {"on": [], "off": []}
    for epoch in range(rounds + 1):  # epoch 1 warms up
        for key, tr in (("on", on), ("off", off)) if epoch % 2 else (("off", off), ("on", on)):
            t0 = time.process_time()
            tr._epoch(epoch + 1, splits.train)
            if epoch:
                times[key].append(time.process_time() - t0)
    steps = -(-len(splits.train.x) // spec.train.batch_size)
    rec = on.grad_norms
    calls = []
    for _ in range(200):
        t0 = time.process_time()
        rec.record()
        calls.append(time.process_time() - t0)
    t_on, t_off = statistics.median(times["on"]), statistics.median(times["off"])
    return {"spec": name.removesuffix(".toml"), "params": on.store.flat.size, "layers": len(rec.layers),
            "steps": steps, "epoch_off_ms": 1e3 * t_off, "epoch_on_ms": 1e3 * t_on,
            "overhead_pct": 100 * (t_on / t_off - 1), "record_us": 1e6 * statistics.median(calls),
            "record_pct_of_step": 100 * statistics.median(calls) / (t_off / steps)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    with threadpool_limits(limits=1):
        rows = [bench(name, args.rounds) for name in SPECS]
    if args.markdown:
        print("| spec | params | steps/epoch | epoch without (ms) | epoch with (ms) | difference | record() per step | share of a step |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['spec']} | {r['params']:,} | {r['steps']} | {r['epoch_off_ms']:.1f} | {r['epoch_on_ms']:.1f} | "
                  f"{r['overhead_pct']:+.1f}% | {r['record_us']:.1f} µs | {r['record_pct_of_step']:.2f}% |")
    else:
        for r in rows:
            print(r)


if __name__ == "__main__":
    main()
