"""Where a spec's time goes: per-op forward, backward and inference milliseconds of its plan.

The plan is built as training builds it (compile, parameter store from the spec's seed, the
same Plan), fed random data of the spec's input shape, and each node's kernels are timed as the
plan's own loops call them (median over repeats). `infer` is the inference-mode forward
(Model.predict's path, no backward caches needed). BLAS threads are pinned with threadpoolctl.

    python bench/profile_plan.py specs/digits_cnn.toml --batch 64
    python bench/profile_plan.py SPEC --batch 64 --threads 1 --repeats 30 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from netspec.api import DTYPES, compile_spec, load_spec
from netspec.executor import ParamStore, Plan
from netspec.executor.plan import _pass_forward
from netspec.kernels.conv_pool import ConvPool
from netspec.training.loop import rng_tree


def random_input(graph, spec, batch: int, rng: np.random.Generator, dtype) -> np.ndarray:
    shape = tuple(batch if i == 0 else (d if isinstance(d, int) else 16) for i, d in enumerate(graph.input_shape))
    if spec.model.input_dtype == "int64":
        vocab = min((n.attrs["vocab_size"] for n in graph.nodes if n.op == "embedding"), default=2)
        return rng.integers(0, vocab, shape).astype(np.int64)
    return rng.standard_normal(shape).astype(dtype)


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}  # cpu: this thread's CPU time
clock = CLOCKS["wall"]


class _Timed:
    """Wraps a kernel; records the seconds of each call into `sink`."""

    def __init__(self, fn, sink: list):
        self.fn, self.sink = fn, sink

    def __call__(self, *args):
        t0 = clock()
        out = self.fn(*args)
        self.sink.append(clock() - t0)
        return out


def _op_label(st) -> str:
    """The op, or what the plan made of it: a conv step that runs its pool too (kernels/conv_pool.py)
    times all of them, and the steps it took over pass their input through."""
    if isinstance(getattr(st.train_forward, "__self__", None), ConvPool):
        return "conv+max_pool"
    return f"{st.node.op} (fused)" if st.train_forward is _pass_forward else st.node.op


def spec_plan(spec_path: str):
    """(spec, plan, rngs, dtype): the plan as training builds it, from the spec's seed."""
    spec = load_spec(spec_path)
    graph = compile_spec(spec).graph
    dtype = DTYPES[spec.train.dtype]
    rngs = rng_tree(spec.seed)
    return spec, Plan(graph, ParamStore.create(graph, dtype, rngs["init"], spec.train.l1, spec.train.l2)), rngs, dtype


def profile(spec_path: str, batch: int, repeats: int, warmup: int = 3, stat: str = "median") -> dict:
    spec, plan, rngs, dtype = spec_plan(spec_path)
    graph = plan.graph
    x = random_input(graph, spec, batch, np.random.default_rng(0), dtype)
    fwd = {st.node.name: [] for st in plan.steps}
    bwd = {st.node.name: [] for st in plan.steps}
    inf = {st.node.name: [] for st in plan.steps}
    orig = [(st.infer_forward, st.train_forward, st.train_backward) for st in plan.steps]
    totals = {"train step": [], "infer": []}

    def run_train():
        t0 = clock()
        z = plan.forward_train(x, rngs["noise"])
        plan.backward(np.ones_like(z) / z.size)
        return clock() - t0

    def run_infer():
        t0 = clock()
        plan.predict(x)
        return clock() - t0

    for _ in range(warmup):
        run_train(), run_infer()
    for _ in range(repeats):  # untimed kernels for the totals, then timed kernels per op
        totals["train step"].append(run_train())
        totals["infer"].append(run_infer())
    for st in plan.steps:  # training runs train_forward/train_backward (the plan may fuse a step away)
        st.train_forward = _Timed(st.train_forward, fwd[st.node.name])
        st.train_backward = _Timed(st.train_backward, bwd[st.node.name])
    for _ in range(repeats):
        run_train()
    for st in plan.steps:  # inference runs infer_forward (a fused step's kernels, or a pass-through)
        st.infer_forward = _Timed(st.infer_forward, inf[st.node.name])
    for _ in range(repeats):
        run_infer()
    for st, (f, tf, tb) in zip(plan.steps, orig):
        st.infer_forward, st.train_forward, st.train_backward = f, tf, tb

    def ms(ts: list) -> float:
        return 1e3 * (min(ts) if stat == "min" else statistics.median(ts)) if ts else 0.0

    rows = [{"node": st.node.name, "op": _op_label(st), "shape": list(graph.shape_of(st.node.name))[1:],
             "forward_ms": ms(fwd[st.node.name]), "backward_ms": ms(bwd[st.node.name]),
             "infer_ms": ms(inf[st.node.name])} for st in plan.steps]  # fmt: skip
    train_sum = sum(r["forward_ms"] + r["backward_ms"] for r in rows)
    infer_sum = sum(r["infer_ms"] for r in rows)
    for r in rows:
        r["train_share"] = (r["forward_ms"] + r["backward_ms"]) / train_sum if train_sum else 0.0
        r["infer_share"] = r["infer_ms"] / infer_sum if infer_sum else 0.0
    return {"spec": spec_path, "batch": batch, "stat": stat, "repeats": repeats, "rows": rows, "kernels_train_ms": train_sum,
            "kernels_infer_ms": infer_sum, "plan_train_ms": ms(totals["train step"]),
            "plan_infer_ms": ms(totals["infer"])}  # fmt: skip


def render(p: dict) -> str:
    lines = [f"{p['spec']}  batch {p['batch']}  ({p['stat']} of {p['repeats']} repeats)",
             f"{'node':<18} {'op':<16} {'output':<14} {'fwd ms':>8} {'bwd ms':>8} {'share':>6} {'infer ms':>9} {'share':>6}"]  # fmt: skip
    for r in p["rows"]:
        shape = "x".join(map(str, r["shape"]))
        lines.append(f"{r['node'][:18]:<18} {r['op'][:16]:<16} {shape[:14]:<14} {r['forward_ms']:>8.3f} "
                     f"{r['backward_ms']:>8.3f} {r['train_share']:>6.1%} {r['infer_ms']:>9.3f} {r['infer_share']:>6.1%}")  # fmt: skip
    lines.append(f"{'kernels total':<50} {p['kernels_train_ms']:>17.3f} {'':>6} {p['kernels_infer_ms']:>9.3f}")
    lines.append(f"{'plan (untimed kernels, incl. loop overhead)':<50} {p['plan_train_ms']:>17.3f} {'':>6} "
                 f"{p['plan_infer_ms']:>9.3f}")  # fmt: skip
    return "\n".join(lines)


def spec_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments the plan profilers share: a spec, its batch size, repeats."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, default=None, help="(training) batch size (default: the spec's train.batch_size)")
    ap.add_argument("--repeats", type=int, default=20)
    return ap


def main() -> None:
    ap = spec_parser(__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="per-op statistic over the repeats (min is steadier on a loaded machine)")
    ap.add_argument("--clock", choices=list(CLOCKS), default="wall",
                    help="cpu: the thread's CPU time, which other processes on a busy machine disturb less")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not Path(args.spec).is_file():
        sys.exit(f"error: no spec file {args.spec}")
    batch = args.batch or load_spec(args.spec).train.batch_size
    global clock
    clock = CLOCKS[args.clock]
    with threadpool_limits(limits=args.threads):
        p = profile(args.spec, batch, args.repeats, stat=args.stat)
    print(json.dumps(p, indent=2) if args.json else render(p))


if __name__ == "__main__":
    main()
