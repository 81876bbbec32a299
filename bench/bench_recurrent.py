"""Recurrent kernels and lstm_seq-shaped training: netspec vs PyTorch (and an old netspec copy).

    python bench/bench_recurrent.py --threads 1 2
    python bench/bench_recurrent.py --baseline /path/to/old/checkout   # before/after

Two kinds of rows, each timed in one process with alternating rounds (medians):
- kernel rows: one lstm / rnn layer forward + backward (T50 I8 H64, batch 32, dy = 1) exactly as
  the executor calls the registered kernels; the inference row is a forward at batch 256;
- epoch rows: whole training epochs of 2,000 samples, batch 32, SGD momentum 0.9, mse
  (`Trainer._epoch`, what `netspec.train` runs), against the same network in PyTorch; the
  inference row is `Plan.predict` in batches of 256 against onnxruntime on netspec's export.

`--baseline PATH` imports the `netspec` package found under PATH (a checkout or a copy of an
older version) as a second package and times it in the same rounds, column "base". Rows with
lengths have no PyTorch column (torch's packed sequences measure something else).
At 1 thread the clock is the process's CPU time (robust on a loaded machine); at more threads
it is wall time.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from timing import SETTLE_S, alternate  # bench/ is on sys.path when run as a script

import netspec

T, F, H, N = 50, 8, 64, 2000


def load_baseline(path: str):
    """The netspec package under `path`, imported as `netspec_baseline` (its imports are relative)."""
    root = Path(path) / "netspec"
    if not (root / "__init__.py").is_file():
        sys.exit(f"error: --baseline {path}: no netspec/__init__.py there")
    spec = importlib.util.spec_from_file_location("netspec_baseline", root / "__init__.py", submodule_search_locations=[str(root)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["netspec_baseline"] = mod
    spec.loader.exec_module(mod)
    return mod


def _sub(pkg, name: str):
    return importlib.import_module(f"{pkg.__name__}.{name}")


# --- kernel rows ---------------------------------------------------------------------------

KERNEL_CASES = {
    # name: (kind, batch, n_in, attrs, lengths?, training)
    "lstm fwd+bwd (lstm_seq)": ("lstm", 32, F, {"return_sequences": False}, False, True),
    "lstm fwd+bwd return_sequences": ("lstm", 32, F, {"return_sequences": True}, False, True),
    "lstm fwd+bwd stacked 2nd (I64)": ("lstm", 32, H, {"return_sequences": False}, False, True),
    "lstm fwd+bwd lengths many-to-one": ("lstm", 32, F, {"return_sequences": False}, True, True),
    "lstm fwd+bwd lengths return_seq": ("lstm", 32, F, {"return_sequences": True}, True, True),
    "lstm infer B256": ("lstm", 256, F, {"return_sequences": False}, False, False),
    "rnn tanh fwd+bwd": ("rnn", 32, F, {"return_sequences": False, "activation": "tanh"}, False, True),
    "rnn tanh lengths return_seq": ("rnn", 32, F, {"return_sequences": True, "activation": "tanh"}, True, True),
    "rnn infer B256": ("rnn", 256, F, {"return_sequences": False, "activation": "tanh"}, False, False),
}  # fmt: skip


def _kernel_params(kind: str, n_in: int, rng) -> dict:
    g = 4 * H if kind == "lstm" else H
    return {
        "kernel": 0.2 * rng.standard_normal((n_in, g), dtype=np.float32),
        "recurrent": 0.2 * rng.standard_normal((H, g), dtype=np.float32),
        "bias_ih": 0.1 * rng.standard_normal(g, dtype=np.float32),
        "bias_hh": 0.1 * rng.standard_normal(g, dtype=np.float32),
    }


def kernel_fn(pkg, kind, attrs, x, params, lengths, training):
    mod = _sub(pkg, f"kernels.{kind}_kernels")
    ctx_cls = _sub(pkg, "kernels.registry").RunContext
    fwd, bwd = getattr(mod, f"{kind}_forward"), getattr(mod, f"{kind}_backward")
    grads = {k: np.empty_like(v) for k, v in params.items()}

    def run():
        ctx = ctx_cls(training=training, dtype=np.float32, lengths=lengths)
        y, cache = fwd(attrs, [x], params, ctx)
        if training:  # a first layer: dx is not needed
            bwd(attrs, np.ones_like(y), cache, params, grads, [False], ctx)

    return run


def torch_kernel_fn(kind, attrs, x, training):
    m = torch.nn.LSTM(x.shape[2], H, batch_first=True) if kind == "lstm" else torch.nn.RNN(x.shape[2], H, nonlinearity=attrs["activation"], batch_first=True)
    xt = torch.from_numpy(x)

    def run():
        if training:
            y = m(xt)[0]
            (y if attrs["return_sequences"] else y[:, -1]).sum().backward()
        else:
            with torch.no_grad():
                m(xt)

    return run


def kernel_rows(base, rng):
    for name, (kind, batch, n_in, attrs, with_lengths, training) in KERNEL_CASES.items():
        x = rng.standard_normal((batch, T, n_in), dtype=np.float32)
        lengths = rng.integers(10, T + 1, batch) if with_lengths else None
        p = _kernel_params(kind, n_in, rng)
        fns = {"netspec": kernel_fn(netspec, kind, attrs, x, p, lengths, training)}
        if base is not None:
            fns["base"] = kernel_fn(base, kind, attrs, x, p, lengths, training)
        if not with_lengths:
            fns["pytorch"] = torch_kernel_fn(kind, attrs, x, training)
        yield name, fns, "ms"


# --- epoch rows ----------------------------------------------------------------------------


def _doc(layers):
    return {
        "name": "bench",
        "model": {"input_shape": [T, F], "layers": layers},
        "train": {"epochs": 1, "loss": "mse", "batch_size": 32, "optimizer": {"type": "sgd", "learning_rate": 0.01, "momentum": 0.9}},
    }


LSTM = {"type": "lstm", "units": H}
SEQ = {**LSTM, "return_sequences": True}
DENSE = {"type": "dense", "units": 1}
EPOCH_CASES = {
    # name: (layers, torch layers, many-to-many target, lengths?)
    "lstm_seq": ([LSTM, DENSE], 1, False, False),
    "return_sequences": ([SEQ, DENSE], 1, True, False),
    "stacked 2 lstm": ([SEQ, LSTM, DENSE], 2, False, False),
    "lengths many-to-one": ([LSTM, DENSE], 1, False, True),
    "lengths return_sequences": ([SEQ, DENSE], 1, True, True),
}


def netspec_setup(pkg, doc, x, y, lengths):
    spec = _sub(pkg, "spec").validate_data(doc, _sub(pkg, "spec.positions").SourceMap("bench.toml"))
    graph = _sub(pkg, "compiler").compile_spec(spec).graph
    ex, loop = _sub(pkg, "executor"), _sub(pkg, "training.loop")
    rngs = loop.rng_tree(0)
    plan = ex.Plan(graph, ex.ParamStore.create(graph, np.float32, rngs["init"]))
    trainer = loop.Trainer(plan, spec.train, seed=0, epochs=1, task="regression", rngs=rngs)
    data = _sub(pkg, "data").Dataset(x, y, lengths)
    return plan, graph, (lambda: trainer._epoch(1, data))


class TorchNet(torch.nn.Module):
    def __init__(self, layers: int, seq: bool):
        super().__init__()
        self.rnn = torch.nn.LSTM(F, H, num_layers=layers, batch_first=True)
        self.out = torch.nn.Linear(H, 1)
        self.seq = seq

    def forward(self, x):
        y = self.rnn(x)[0]
        return self.out(y if self.seq else y[:, -1])


def torch_epoch_fn(model, x, y, batch=32):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def epoch():
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()

    return epoch


def inference_fns(plan, graph, x, threads):
    import onnxruntime as ort

    from netspec.export.onnx_export import export_onnx

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    model = export_onnx(graph, plan.store.values)
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    a, b = plan.predict(x[:256]), sess.run(None, {name: x[:256]})[0]
    if not np.allclose(a, b, atol=1e-4, rtol=1e-3):  # the two must compute the same thing
        raise SystemExit(f"error: netspec and onnxruntime disagree (max |diff| {np.abs(a - b).max():.2e})")
    return {
        "netspec": lambda: [plan.predict(x[i : i + 256]) for i in range(0, len(x), 256)],
        "onnxruntime": lambda: [sess.run(None, {name: x[i : i + 256]}) for i in range(0, len(x), 256)],
    }


def epoch_rows(base, rng, threads):
    x = rng.standard_normal((N, T, F), dtype=np.float32)
    y1 = rng.standard_normal((N, 1), dtype=np.float32)
    ys = rng.standard_normal((N, T, 1), dtype=np.float32)
    lens = rng.integers(10, T + 1, N).astype(np.int64)
    for name, (layers, n_layers, seq, with_lengths) in EPOCH_CASES.items():
        doc, y, lengths = _doc(layers), ys if seq else y1, lens if with_lengths else None
        plan, graph, fn = netspec_setup(netspec, doc, x, y, lengths)
        fns = {"netspec": fn}
        if base is not None:
            fns["base"] = netspec_setup(base, doc, x, y, lengths)[2]
        if not with_lengths:
            fns["pytorch"] = torch_epoch_fn(TorchNet(n_layers, seq), x, y)
        yield f"epoch {name}", fns, "ms"
        if name == "lstm_seq":
            fns = inference_fns(plan, graph, x, threads)
            if base is not None:
                bplan = netspec_setup(base, doc, x, y, None)[0]
                fns["base"] = lambda: [bplan.predict(x[i : i + 256]) for i in range(0, len(x), 256)]
            yield "infer lstm_seq B256 (2,000 samples)", fns, "ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per row (kernel rows x3)")
    ap.add_argument("--baseline", metavar="PATH", help="directory holding an older netspec package")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this text")
    args = ap.parse_args()
    base = load_baseline(args.baseline) if args.baseline else None
    for threads in args.threads:
        clock = time.thread_time if threads == 1 else time.perf_counter
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        print(f"\n## {threads} thread(s), medians in ms (ratio = other / netspec: > 1 means netspec is faster)")
        with threadpool_limits(limits=threads):
            rng = np.random.default_rng(0)
            for kind, rows in (("kernel", kernel_rows(base, rng)), ("epoch", epoch_rows(base, rng, threads))):
                for name, fns, _ in rows:
                    if args.only not in name:
                        continue
                    times = alternate(fns, args.rounds * (3 if kind == "kernel" else 1), clock, SETTLE_S if threads > 1 else 0.0)
                    m = {k: 1e3 * statistics.median(v) for k, v in times.items()}
                    cells = [f"netspec {m['netspec']:8.2f}"]
                    for other in ("base", "pytorch", "onnxruntime"):
                        if other in m:
                            cells.append(f"{other} {m[other]:8.2f} ({m[other] / m['netspec']:.2f}x)")
                    print(f"{name:<36} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
