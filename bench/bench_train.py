"""Training throughput: netspec vs PyTorch CPU on identical workloads, in one process.

Same layer sizes, batch size, optimizer (SGD, momentum 0.9, lr 0.01), float32, shuffled
minibatches of random data, same BLAS/intra-op thread count. Each round times one full epoch
of training steps in netspec and then in PyTorch; rounds alternate so machine noise hits both
alike, and the medians are compared.

    python bench/bench_train.py                 # all workloads, 1 and 2 threads
    python bench/bench_train.py --markdown      # the README table
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from netspec.compiler import compile_spec
from netspec.data import Dataset
from netspec.executor import ParamStore, Plan
from netspec.spec import positions, validate_data
from netspec.training.loop import Trainer, rng_tree

WORKLOADS = {
    "mlp_digits": {"sizes": [64, 128, 64, 10], "batch": 32, "samples": 1797},
    "mlp_mnist": {"sizes": [784, 256, 128, 10], "batch": 64, "samples": 5000},
}


def _data(w: dict, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((w["samples"], w["sizes"][0]), dtype=np.float32)
    y = rng.integers(0, w["sizes"][-1], w["samples"]).astype(np.int64)
    return x, y


def netspec_epoch_fn(w: dict, x, y):
    sizes = w["sizes"]
    layers = [{"type": "dense", "units": n, "activation": "relu"} for n in sizes[1:-1]]
    layers.append({"type": "dense", "units": sizes[-1], "activation": "softmax"})
    doc = {
        "name": "bench",
        "model": {"input_shape": [sizes[0]], "layers": layers},
        "train": {"epochs": 1, "loss": "cross_entropy", "batch_size": w["batch"],
                  "optimizer": {"type": "sgd", "learning_rate": 0.01, "momentum": 0.9}},
    }  # fmt: skip
    spec = validate_data(doc, positions.SourceMap("bench.toml"))
    graph = compile_spec(spec).graph
    rngs = rng_tree(0)
    plan = Plan(graph, ParamStore.create(graph, np.float32, rngs["init"]))
    trainer = Trainer(plan, spec.train, seed=0, epochs=1, task="classification", rngs=rngs)
    data = Dataset(x, y)
    return lambda: trainer._epoch(1, data)


def torch_epoch_fn(w: dict, x, y):
    import torch

    sizes = w["sizes"]
    mods = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods, torch.nn.Linear(sizes[-2], sizes[-1]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    bs = w["batch"]

    def epoch():
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), bs):
            idx = order[i : i + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    return epoch


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(names, threads_list, rounds: int) -> list[dict]:
    try:
        import torch
    except ImportError:
        torch = None
    results = []
    for threads in threads_list:
        with threadpool_limits(limits=threads):
            if torch is not None:
                torch.set_num_threads(threads)
            for name in names:
                w = WORKLOADS[name]
                x, y = _data(w)
                fns = {"netspec": netspec_epoch_fn(w, x, y)}
                if torch is not None:
                    fns["pytorch"] = torch_epoch_fn(w, x, y)
                times = {k: [] for k in fns}
                for k, fn in fns.items():  # warm-up
                    fn()
                for _ in range(rounds):
                    for k, fn in fns.items():
                        times[k].append(_time(fn))
                row = {"workload": name, "threads": threads, "batch": w["batch"], "samples": w["samples"]}
                for k, ts in times.items():
                    row[f"{k}_samples_per_s"] = w["samples"] / statistics.median(ts)
                if torch is not None:
                    row["ratio"] = row["netspec_samples_per_s"] / row["pytorch_samples_per_s"]
                results.append(row)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    results = run(args.workloads, args.threads, args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    if args.markdown:
        print("| workload | threads | batch | netspec samples/s | PyTorch samples/s | netspec / PyTorch |")
        print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        ns, pt = r["netspec_samples_per_s"], r.get("pytorch_samples_per_s", float("nan"))
        ratio = r.get("ratio", float("nan"))
        if args.markdown:
            print(f"| {r['workload']} | {r['threads']} | {r['batch']} | {ns:,.0f} | {pt:,.0f} | {ratio:.2f} |")
        else:
            print(f"{r['workload']:<11} threads={r['threads']} batch={r['batch']:<3} netspec {ns:>9,.0f}/s  "
                  f"pytorch {pt:>9,.0f}/s  ratio {ratio:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
