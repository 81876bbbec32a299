"""Kernel times: forward + backward of single layers in netspec and PyTorch CPU, same shapes,
float32, same thread count, in one process with alternating rounds (medians reported).

    python bench/bench_kernels.py --markdown

The netspec side runs the registered kernels exactly as the executor calls them (attributes
from the compiler, preallocated gradient buffers, dX skipped for a first layer).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from netspec.compiler import compile_spec
from netspec.kernels.init import init_param
from netspec.kernels.registry import RunContext, get_op
from netspec.spec import positions, validate_data

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
}  # fmt: skip


def netspec_fn(input_shape, layer, need_dx):
    doc = {"name": "k", "model": {"input_shape": input_shape, "layers": [layer]}, "train": {"epochs": 1, "loss": "mse"}}
    node = compile_spec(validate_data(doc, positions.SourceMap("k.toml"))).graph.nodes[0]
    op = get_op(node.op)
    rng = np.random.default_rng(0)
    params = {r: init_param(p, rng, np.float32) for r, p in node.params.items()}
    grads = {r: np.empty_like(v) for r, v in params.items()}
    x = rng.standard_normal((BATCH, *input_shape), dtype=np.float32)
    ctx = RunContext(training=True, rng=rng, dtype=np.float32)

    def run():
        y, cache = op.forward(node.attrs, [x], params, ctx)
        op.backward(node.attrs, np.ones_like(y), cache, params, grads, [need_dx], ctx)

    return run


def torch_fn(input_shape, layer, need_dx):
    import torch

    t = layer["type"]
    if t == "conv2d":
        mod = torch.nn.Conv2d(input_shape[0], layer["filters"], layer["kernel_size"], padding="same")
    elif t == "max_pool2d":
        mod = torch.nn.MaxPool2d(layer["pool_size"])
    elif t == "lstm":
        mod = torch.nn.LSTM(input_shape[1], layer["units"], batch_first=True)
    elif t == "rnn":
        mod = torch.nn.RNN(input_shape[1], layer["units"], batch_first=True)
    else:
        mod = torch.nn.Linear(input_shape[0], layer["units"])
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
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.markdown:
        print(f"| layer (batch {BATCH}, fwd+bwd, {args.threads} thread) | netspec ms | PyTorch ms | netspec / PyTorch time |")
        print("| --- | --- | --- | --- |")
    with threadpool_limits(limits=args.threads):
        for name, (shape, layer, need_dx) in CASES.items():
            fns = {"netspec": netspec_fn(shape, layer, need_dx), "pytorch": torch_fn(shape, layer, need_dx)}
            times = {k: [] for k in fns}
            for fn in fns.values():
                fn()
            for _ in range(args.rounds):
                for k, fn in fns.items():
                    t0 = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t0)
            ns, pt = (1e3 * statistics.median(times[k]) for k in ("netspec", "pytorch"))
            if args.markdown:
                print(f"| {name} | {ns:.2f} | {pt:.2f} | {ns / pt:.2f} |")
            else:
                print(f"{name:<40} netspec {ns:7.2f} ms  pytorch {pt:7.2f} ms  time ratio {ns / pt:.2f}")


if __name__ == "__main__":
    main()
