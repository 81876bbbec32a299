"""Kernel times: forward + backward of single layers in netspec and PyTorch CPU, same shapes,
float32, same thread count, in one process with alternating rounds (medians reported).

    python bench/bench_kernels.py --markdown
    python bench/bench_kernels.py --baseline ../old --only pool    # before/after a kernel change

The netspec side runs the registered kernels exactly as the executor calls them (attributes
from the compiler, preallocated gradient buffers and a scratch workspace reused across calls,
dX skipped for a first layer). `--baseline PATH` also times the kernels of an older netspec
package found under PATH (a second checkout) in the same rounds: columns "base ms" and
"now / base" (below 1: this checkout is faster). Recurrent layers with per-sample lengths are
in bench_recurrent.py.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import netspec

sys.path.insert(0, str(Path(__file__).parent))
from bench_recurrent import load_baseline  # noqa: E402

BATCH = 64
CASES = {
    # name: (input_shape, layer, needs dX, torch module factory)
    "conv2d 1->32 28x28 3x3 (first layer)": ([1, 28, 28], {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same"}, False),
    "conv2d 32->64 14x14 3x3": ([32, 14, 14], {"type": "conv2d", "filters": 64, "kernel_size": 3, "padding": "same"}, True),
    "max_pool2d 2x2 on 32x28x28": ([32, 28, 28], {"type": "max_pool2d", "pool_size": 2}, True),
    "lstm T50 I32 H128": ([50, 32], {"type": "lstm", "units": 128, "return_sequences": True}, True),
    "lstm T50 I8 H64 (lstm_seq shape)": ([50, 8], {"type": "lstm", "units": 64, "return_sequences": True}, False),
    "rnn tanh T50 I8 H64": ([50, 8], {"type": "rnn", "units": 64, "return_sequences": True}, False),
    "dense 784->256": ([784], {"type": "dense", "units": 256}, True),
    # the rest of the catalog: every op kind a spec can use, at typical shapes
    "conv1d 16->32 L100 k5": ([16, 100], {"type": "conv1d", "filters": 32, "kernel_size": 5, "padding": "same"}, True),
    "conv2d 16->32 28x28 3x3 stride 2": ([16, 28, 28], {"type": "conv2d", "filters": 32, "kernel_size": 3, "strides": 2, "padding": "same"}, True),
    "conv2d 16->32 28x28 3x3 dilation 2": ([16, 28, 28], {"type": "conv2d", "filters": 32, "kernel_size": 3, "dilation": 2, "padding": "same"}, True),
    "avg_pool2d 2x2 on 32x28x28": ([32, 28, 28], {"type": "avg_pool2d", "pool_size": 2}, True),
    "max_pool1d 2 on 32x100": ([32, 100], {"type": "max_pool1d", "pool_size": 2}, True),
    "global_avg_pool on 64x14x14": ([64, 14, 14], {"type": "global_avg_pool"}, True),
    "global_max_pool on 64x14x14": ([64, 14, 14], {"type": "global_max_pool"}, True),
    "batch_norm on 32x14x14 channels": ([32, 14, 14], {"type": "batch_norm"}, True),
    "batch_norm on 256 features": ([256], {"type": "batch_norm"}, True),
    "embedding T50 vocab 1000 dim 32": ([50], {"type": "embedding", "vocab_size": 1000, "dim": 32}, False),
    "gru T50 I8 H64": ([50, 8], {"type": "gru", "units": 64, "return_sequences": True}, False),
}  # fmt: skip


def netspec_fn(pkg, input_shape, layer, need_dx):
    """forward + backward of one layer with the kernels of package `pkg` (netspec or a baseline)."""
    sub = lambda name: importlib.import_module(f"{pkg.__name__}.{name}")  # noqa: E731
    spec_mod, reg = sub("spec"), sub("kernels.registry")
    doc = {"name": "k", "model": {"input_shape": input_shape, "layers": [layer]}, "train": {"epochs": 1, "loss": "mse"}}
    if layer["type"] == "embedding":
        doc["model"]["input_dtype"] = "int64"
    node = sub("compiler").compile_spec(spec_mod.validate_data(doc, spec_mod.positions.SourceMap("k.toml"))).graph.nodes[0]
    op = reg.get_op(node.op)
    rng = np.random.default_rng(0)
    params = {r: sub("kernels.init").init_param(p, rng, np.float32) for r, p in node.params.items()}
    grads = {r: np.empty_like(v) for r, v in params.items()}
    if layer["type"] == "embedding":
        x = rng.integers(0, layer["vocab_size"], (BATCH, *input_shape))
    else:
        x = rng.standard_normal((BATCH, *input_shape), dtype=np.float32)
    ctx = reg.RunContext(training=True, rng=rng, dtype=np.float32)
    if hasattr(ctx, "ws"):  # the plan's per-step workspace (older packages have none)
        ctx.ws = {}

    def run():
        y, cache = op.forward(node.attrs, [x], params, ctx)
        op.backward(node.attrs, np.ones_like(y), cache, params, grads, [need_dx], ctx)

    return run


def torch_fn(input_shape, layer, need_dx):
    import torch

    t = layer["type"]
    if t in ("conv1d", "conv2d"):
        cls = torch.nn.Conv1d if t == "conv1d" else torch.nn.Conv2d
        stride, dil = layer.get("strides", 1), layer.get("dilation", 1)
        pad = "same" if stride == 1 else (layer["kernel_size"] - 1) // 2  # same as netspec's "same" at stride 2 on 28
        mod = cls(input_shape[0], layer["filters"], layer["kernel_size"], stride=stride, dilation=dil, padding=pad)
    elif t in ("max_pool1d", "max_pool2d", "avg_pool2d"):
        mod = {"max_pool1d": torch.nn.MaxPool1d, "max_pool2d": torch.nn.MaxPool2d, "avg_pool2d": torch.nn.AvgPool2d}[t](layer["pool_size"])
    elif t == "global_avg_pool":
        mod = torch.nn.AdaptiveAvgPool2d(1)
    elif t == "global_max_pool":
        mod = torch.nn.AdaptiveMaxPool2d(1)
    elif t == "batch_norm":
        mod = (torch.nn.BatchNorm2d if len(input_shape) == 3 else torch.nn.BatchNorm1d)(input_shape[0])
    elif t == "embedding":
        mod = torch.nn.Embedding(layer["vocab_size"], layer["dim"])
    elif t == "gru":
        mod = torch.nn.GRU(input_shape[1], layer["units"], batch_first=True)
    elif t == "lstm":
        mod = torch.nn.LSTM(input_shape[1], layer["units"], batch_first=True)
    elif t == "rnn":
        mod = torch.nn.RNN(input_shape[1], layer["units"], batch_first=True)
    else:
        mod = torch.nn.Linear(input_shape[0], layer["units"])
    if t == "embedding":
        x = torch.randint(0, layer["vocab_size"], (BATCH, *input_shape))
    else:
        x = torch.randn(BATCH, *input_shape, requires_grad=need_dx)

    def run():
        y = mod(x)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(torch.ones_like(y))

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--baseline", metavar="PATH", help="directory holding an older netspec package")
    ap.add_argument("--only", default="", help="run only the layers whose name contains this text")
    args = ap.parse_args()
    import torch

    base = load_baseline(args.baseline) if args.baseline else None
    torch.set_num_threads(args.threads)
    extra = " base ms | now / base |" if base else ""
    if args.markdown:
        print(f"| layer (batch {BATCH}, fwd+bwd, {args.threads} thread) | netspec ms | PyTorch ms | netspec / PyTorch time |{extra}")
        print("| --- | --- | --- | --- |" + (" --- | --- |" if base else ""))
    with threadpool_limits(limits=args.threads):
        for name, (shape, layer, need_dx) in CASES.items():
            if args.only not in name:
                continue
            fns = {"netspec": netspec_fn(netspec, shape, layer, need_dx), "pytorch": torch_fn(shape, layer, need_dx)}
            if base is not None:
                fns["base"] = netspec_fn(base, shape, layer, need_dx)
            times = {k: [] for k in fns}
            for fn in fns.values():
                fn()
            for r in range(args.rounds):
                order = list(fns)[r % len(fns) :] + list(fns)[: r % len(fns)]  # rotate who goes first
                for k in order:
                    t0 = time.perf_counter()
                    fns[k]()
                    times[k].append(time.perf_counter() - t0)
            ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
            ns, pt = ms["netspec"], ms["pytorch"]
            if args.markdown:
                tail = f" {ms['base']:.2f} | {ns / ms['base']:.2f} |" if base else ""
                print(f"| {name} | {ns:.2f} | {pt:.2f} | {ns / pt:.2f} |{tail}")
            else:
                tail = f"  base {ms['base']:7.2f} ms  now/base {ns / ms['base']:.2f}" if base else ""
                print(f"{name:<40} netspec {ns:7.2f} ms  pytorch {pt:7.2f} ms  time ratio {ns / pt:.2f}{tail}")


if __name__ == "__main__":
    main()
