"""Training and inference throughput: netspec vs PyTorch CPU (and onnxruntime), in one process.

The four workloads of issue 7 (specs in bench/workloads/, the PyTorch side in
torch_workloads.py): same architecture, data size, batch size, optimizer (SGD, momentum 0.9,
lr 0.01), float32, random data, the same BLAS / intra-op thread count.

Training: each round times one whole epoch of shuffled minibatches in netspec (the Trainer's
epoch, including its per-epoch train metrics) and then in PyTorch. Inference: each round runs
the whole data set in batches of 256 through netspec's `Model.predict`, PyTorch eager
(`inference_mode`, eval) and onnxruntime on netspec's own ONNX export of the same trained
model. Rounds alternate so machine noise hits every side alike; medians are compared.

    python bench/bench_train.py                              # all workloads, 1 and 2 threads
    python bench/bench_train.py --markdown                   # the README table
    python bench/bench_train.py --rounds 3 --workloads cnn_mnist --threads 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from timing import SETTLE_S, alternate  # bench/ is on sys.path when run as a script

from netspec.api import Model, compile_spec, load_spec
from netspec.data import Dataset
from netspec.executor import ParamStore, Plan
from netspec.training.loop import Trainer, rng_tree

HERE = Path(__file__).resolve().parent
WORKLOADS = {  # name -> examples per epoch (architecture, batch and optimizer: the spec file)
    "mlp_digits": 1797,
    "mlp_mnist": 5000,
    "cnn_mnist": 2000,
    "lstm_seq": 2000,
}
INFER_BATCH = 256


def _data(name: str, spec, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = WORKLOADS[name]
    x = rng.standard_normal((n, *spec.model.input_shape), dtype=np.float32)
    if spec.train.loss == "mse":
        return x, rng.standard_normal((n, 1), dtype=np.float32)
    return x, rng.integers(0, 10, n).astype(np.int64)


def netspec_side(name: str):
    spec = load_spec(HERE / "workloads" / f"{name}.toml")
    compiled = compile_spec(spec)
    rngs = rng_tree(0)
    store = ParamStore.create(compiled.graph, np.float32, rngs["init"])
    plan = Plan(compiled.graph, store)
    trainer = Trainer(plan, spec.train, seed=0, epochs=1, task=spec.train.task, rngs=rngs)
    x, y = _data(name, spec)
    data = Dataset(x, y)
    model = Model(spec, compiled, store)
    return spec, x, y, (lambda: trainer._epoch(1, data)), model


def torch_side(name: str, spec, x, y):
    import torch
    from torch_workloads import build, loss_fn, outputs

    model = build(name)
    opt = torch.optim.SGD(model.parameters(), lr=spec.train.optimizer.learning_rate, momentum=0.9)
    loss = loss_fn(name)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    bs = spec.train.batch_size

    def epoch():
        model.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), bs):
            idx = order[i : i + bs]
            opt.zero_grad(set_to_none=True)
            loss(model(xt[idx]), yt[idx]).backward()
            opt.step()

    def infer():
        model.eval()
        with torch.inference_mode():
            for i in range(0, len(xt), INFER_BATCH):
                outputs(name, model(xt[i : i + INFER_BATCH]))

    return epoch, infer


def onnx_infer_fn(model: Model, x, threads: int):
    import onnxruntime as ort

    from netspec.export.onnx_export import export_onnx

    proto = export_onnx(model.graph, model.store.values)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = sess.get_inputs()[0].name

    def infer():
        for i in range(0, len(x), INFER_BATCH):
            sess.run(None, {feed: x[i : i + INFER_BATCH]})

    return infer


def _alternate(fns: dict, rounds: int, n: int, settle: float = 0.0) -> dict[str, float]:
    """samples/s per side (medians of alternating rounds, timing.py)."""
    return {k: n / statistics.median(ts) for k, ts in alternate(fns, rounds, settle=settle).items()}


def run(names, threads_list, rounds: int, infer: bool = True) -> list[dict]:
    import torch

    results = []
    for threads in threads_list:
        with threadpool_limits(limits=threads):
            torch.set_num_threads(threads)
            for name in names:
                spec, x, y, ns_epoch, model = netspec_side(name)
                pt_epoch, pt_infer = torch_side(name, spec, x, y)
                n = len(x)
                row = {"workload": name, "threads": threads, "batch": spec.train.batch_size, "samples": n}
                settle = SETTLE_S if threads > 1 else 0.0
                train = _alternate({"netspec": ns_epoch, "pytorch": pt_epoch}, rounds, n, settle)
                row.update(train_netspec=train["netspec"], train_pytorch=train["pytorch"])
                row["train_ratio"] = train["netspec"] / train["pytorch"]
                if infer:
                    fns = {"netspec": lambda: [model.predict(x[i : i + INFER_BATCH]) for i in range(0, n, INFER_BATCH)],
                           "pytorch": pt_infer, "onnxruntime": onnx_infer_fn(model, x, threads)}  # fmt: skip
                    inf = _alternate(fns, rounds, n, settle)
                    row.update({f"infer_{k}": v for k, v in inf.items()})
                    row["infer_ratio_ort"] = inf["netspec"] / inf["onnxruntime"]
                    row["infer_ratio_pytorch"] = inf["netspec"] / inf["pytorch"]
                results.append(row)
    return results


def _k(v: float) -> str:
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.1f}k"


def markdown(results: list[dict]) -> str:
    lines = ["| workload | threads | netspec train | PyTorch train | ratio | netspec infer | PyTorch infer | "
             "onnxruntime infer | ratio vs ort |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in results:
        infer = (f"{_k(r['infer_netspec'])} | {_k(r['infer_pytorch'])} | {_k(r['infer_onnxruntime'])} | "
                 f"{r['infer_ratio_ort']:.2f}") if "infer_netspec" in r else "- | - | - | -"  # fmt: skip
        lines.append(f"| {r['workload']} | {r['threads']} | {_k(r['train_netspec'])} | {_k(r['train_pytorch'])} | "
                     f"{r['train_ratio']:.2f} | {infer} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-infer", action="store_true", help="training only")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    args = ap.parse_args()
    results = run(args.workloads, args.threads, args.rounds, infer=not args.no_infer)
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.markdown:
        print(markdown(results))
    else:
        for r in results:
            line = (f"{r['workload']:<11} threads={r['threads']} train netspec {r['train_netspec']:>9,.0f}/s "
                    f"pytorch {r['train_pytorch']:>9,.0f}/s ratio {r['train_ratio']:.2f}")  # fmt: skip
            if "infer_netspec" in r:
                line += (f" | infer netspec {r['infer_netspec']:>10,.0f}/s pytorch {r['infer_pytorch']:>10,.0f}/s "
                         f"ort {r['infer_onnxruntime']:>10,.0f}/s ratio {r['infer_ratio_ort']:.2f}")  # fmt: skip
            print(line, flush=True)


if __name__ == "__main__":
    main()
