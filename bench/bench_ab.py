"""Before/after a change on whole workloads: this checkout's netspec against an older one, in one
process, alternating rounds (the machine's drift hits both sides alike).

For each workload of bench_train.py: a training epoch (`Trainer._epoch`, as bench_train times
it) and `Model.predict` over the data in batches of --rows, both packages on the same spec,
seed and data. Thread CPU time at 1 BLAS thread; medians of the rounds, and the median of the
per-round ratios (new / old: below 1, this checkout is faster).

    python bench/bench_ab.py --baseline ../old --workloads cnn_mnist
    python bench/bench_ab.py --baseline ../old --workloads cnn_mnist --rows 4096 --only predict
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from pathlib import Path

import numpy as np
from bench_recurrent import load_baseline
from bench_train import WORKLOADS, _data
from threadpoolctl import threadpool_limits

import netspec

HERE = Path(__file__).resolve().parent


def sides(pkg, name: str, rows: int):
    """(epoch, predict) callables of package `pkg` on workload `name`."""
    api, executor = importlib.import_module(f"{pkg.__name__}.api"), importlib.import_module(f"{pkg.__name__}.executor")
    loop, data = importlib.import_module(f"{pkg.__name__}.training.loop"), importlib.import_module(f"{pkg.__name__}.data")
    spec = api.load_spec(HERE / "workloads" / f"{name}.toml")
    compiled = api.compile_spec(spec)
    rngs = loop.rng_tree(0)
    store = executor.ParamStore.create(compiled.graph, np.float32, rngs["init"])
    trainer = loop.Trainer(executor.Plan(compiled.graph, store), spec.train, seed=0, epochs=1, task=spec.train.task, rngs=rngs)
    x, y = _data(name, spec)
    dataset, model = data.Dataset(x, y), api.Model(spec, compiled, store)
    return (lambda: trainer._epoch(1, dataset)), (lambda: [model.predict(x[i : i + rows]) for i in range(0, len(x), rows)])


def compare(new, old, rounds: int) -> dict:
    new(), old()  # warm-up
    t_new, t_old = [], []
    for r in range(rounds):
        for fn, ts in ((new, t_new), (old, t_old)) if r % 2 == 0 else ((old, t_old), (new, t_new)):
            t0 = time.thread_time()
            fn()
            ts.append(time.thread_time() - t0)
    return {"new_ms": 1e3 * statistics.median(t_new), "old_ms": 1e3 * statistics.median(t_old),
            "ratio": statistics.median(t_new) / statistics.median(t_old),
            "paired": statistics.median(a / b for a, b in zip(t_new, t_old))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, metavar="PATH", help="directory holding an older netspec package")
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--rows", type=int, default=256, help="Model.predict batch (default 256)")
    ap.add_argument("--only", choices=["train", "predict"])
    args = ap.parse_args()
    old_pkg = load_baseline(args.baseline)
    with threadpool_limits(limits=1):
        for name in args.workloads:
            new, old = sides(netspec, name, args.rows), sides(old_pkg, name, args.rows)
            for k, mode, label in ((0, "train", "train epoch"), (1, "predict", f"predict, batches of {args.rows}")):
                if args.only and args.only != mode:
                    continue
                r = compare(new[k], old[k], args.rounds)
                print(f"{name:<11} {label:<24} new {r['new_ms']:8.1f} ms  old {r['old_ms']:8.1f} ms  "
                      f"new/old {r['ratio']:.3f} (paired {r['paired']:.3f})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
