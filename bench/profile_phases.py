"""Where a conv network's time goes by kind of work, inside the real plan: matrix products,
building columns, col2im, max-pool passes, padding, and the rest.

profile_plan.py splits a step by node; this splits it by what numpy is doing, which is what
bounds the non-GEMM work (issue 7). The plan runs as training and Model.predict run it, with
the conv and pool kernels' internal steps wrapped in timers (thread CPU time), each charged to
the plan node running at the time; "other" is the step's time outside them (elementwise
kernels, dense bias and relu, the loss input, the loop).

    python bench/profile_phases.py bench/workloads/cnn_mnist.toml
    python bench/profile_phases.py SPEC --batch 64 --infer-batch 256 --repeats 30
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from gemm_floor import _real_matmul, recording, wrap_steps
from profile_plan import random_input, spec_parser, spec_plan
from threadpoolctl import threadpool_limits

from netspec.api import load_spec
from netspec.kernels import conv, conv_pool, conv_wide, max_pool, pool

# (module, function, kind): the kernels' internal steps, by what they do
PIECES = [
    (conv, "_padded", "padding"),
    (conv, "_columns", "columns (im2col)"),
    (conv_wide, "col2im", "col2im"),
    (pool, "max_pool_into", "max-pool passes"),
    (conv_pool, "max_pool_into", "max-pool passes"),
    (pool, "max_unpool", "max-pool gradient"),
    (conv_pool, "max_unpool", "max-pool gradient"),
    (max_pool, "relu_masked", "relu mask behind a pool"),
]


class Clock:
    """Seconds per (node, kind); a piece inside another is charged to the inner one only."""

    def __init__(self):
        self.node = "(outside the plan)"
        self.totals: dict[tuple[str, str], float] = {}
        self._inner = 0.0
        self.matmul = self.timed(_real_matmul, "matrix products")  # what recording() installs

    def timed(self, fn, kind: str):
        def run(*args, **kwargs):
            outer, self._inner = self._inner, 0.0
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - t0
                key = (self.node, kind)
                self.totals[key] = self.totals.get(key, 0.0) + spent - self._inner
                self._inner = outer + spent

        return run


@contextmanager
def instrumented(plan, clock: Clock):
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in PIECES]
    for mod, name, kind in PIECES:
        setattr(mod, name, clock.timed(getattr(mod, name), kind))
    undo = wrap_steps(plan, clock)
    try:
        with recording(clock):  # numpy.matmul -> clock.matmul
            yield
    finally:
        undo()
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def measure(spec_path: str, batch: int, infer_batch: int, repeats: int) -> dict[str, dict]:
    spec, plan, rngs, dtype = spec_plan(spec_path)
    rng = np.random.default_rng(0)
    xt = random_input(plan.graph, spec, batch, rng, dtype)
    xi = random_input(plan.graph, spec, infer_batch, rng, dtype)

    def step():
        z = plan.forward_train(xt, rngs["noise"])
        plan.backward(np.ones_like(z) / z.size)

    out = {}
    for mode, call in (("train", step), ("infer", lambda: plan.predict(xi))):
        for _ in range(3):
            call()  # warm: buffers exist before timing
        clock = Clock()
        total = 0.0
        with instrumented(plan, clock):
            for _ in range(repeats):
                t0 = time.thread_time()
                call()
                total += time.thread_time() - t0
        ms = {key: 1e3 * v / repeats for key, v in clock.totals.items()}
        out[mode] = {"total_ms": 1e3 * total / repeats, "pieces": ms}
    return out


def render(spec_path: str, batch: int, infer_batch: int, result: dict) -> str:
    lines = []
    for mode, b in (("train", batch), ("infer", infer_batch)):
        r = result[mode]
        by_kind: dict[str, float] = {}
        for (_, kind), v in r["pieces"].items():
            by_kind[kind] = by_kind.get(kind, 0.0) + v
        other = r["total_ms"] - sum(by_kind.values())
        lines.append(f"{spec_path}  {mode} (batch {b}): {r['total_ms']:.2f} ms a batch, 1 thread, CPU time")
        for kind, v in sorted([*by_kind.items(), ("other", other)], key=lambda kv: -kv[1]):
            nodes = ", ".join(f"{n} {ms:.2f}" for (n, k), ms in sorted(r["pieces"].items()) if k == kind and ms >= 0.005)
            lines.append(f"  {kind:<26} {v:7.3f} ms {v / r['total_ms']:6.1%}   {nodes}")
    return "\n".join(lines)


def main() -> None:
    ap = spec_parser(__doc__)
    ap.add_argument("--infer-batch", type=int, default=256)
    args = ap.parse_args()
    batch = args.batch or load_spec(args.spec).train.batch_size
    with threadpool_limits(limits=1):
        result = measure(args.spec, batch, args.infer_batch, args.repeats)
    print(render(args.spec, batch, args.infer_batch, result))


if __name__ == "__main__":
    main()
