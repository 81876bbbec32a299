"""The GEMM floor of a plan: its matrix products alone, each timed with its operands hot in cache.

`record(plan_call)` runs one call of a plan (a training step or an inference batch) with
numpy.matmul wrapped, and keeps, per plan node, a copy of every product's operands in the
same memory layout (shape and strides, so BLAS sees the same transposes). `floor_ms` then
times each product alone, warm, and sums the minima: no step that runs those products can be
faster, so the floor bounds what any rearrangement of the non-GEMM work can reach.

The kernels call np.matmul by attribute, so replacing numpy.matmul sees every product they run;
the few `@` GEMVs (rowwise sums) are reductions, not products, and stay out.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

_real_matmul = np.matmul


def _like(a: np.ndarray) -> np.ndarray:
    """A fresh array with a's values, shape and strides (not necessarily contiguous)."""
    a = np.asarray(a)
    if a.ndim == 0 or a.flags.c_contiguous:
        return a.copy()
    lo = sum(min(0, (n - 1) * s) for n, s in zip(a.shape, a.strides))
    hi = sum(max(0, (n - 1) * s) for n, s in zip(a.shape, a.strides)) + a.itemsize
    buf = np.empty((hi - lo) // a.itemsize, a.dtype)
    out = np.lib.stride_tricks.as_strided(buf[-lo // a.itemsize :], a.shape, a.strides)
    out[...] = a
    return out


class Recorder:
    """The products of one plan call, per node: [(a, b, out or None), ...]."""

    def __init__(self):
        self.node = "(outside the plan)"
        self.calls: dict[str, list[tuple]] = {}

    def matmul(self, a, b, *args, out=None, **kw):
        result = _real_matmul(a, b, *args, out=out, **kw)
        self.calls.setdefault(self.node, []).append((_like(a), _like(b), None if out is None else _like(out)))
        return result


@contextmanager
def recording(rec: Recorder):
    np.matmul = rec.matmul
    try:
        yield rec
    finally:
        np.matmul = _real_matmul


def wrap_steps(plan, rec: Recorder, attrs=("infer_forward", "train_forward", "train_backward")):
    """Tag each plan step's kernels with its node name while they run; returns an undo."""
    saved = []
    for st in plan.steps:
        for attr in attrs:
            fn = getattr(st, attr)
            saved.append((st, attr, fn))

            def tagged(*args, _fn=fn, _name=st.node.name):
                rec.node = _name
                try:
                    return _fn(*args)
                finally:
                    rec.node = "(outside the plan)"

            setattr(st, attr, tagged)

    def undo():
        for st, attr, fn in saved:
            setattr(st, attr, fn)

    return undo


def record(plan, call) -> dict[str, list[tuple]]:
    rec = Recorder()
    undo = wrap_steps(plan, rec)
    try:
        with recording(rec):
            call()
    finally:
        undo()
    return rec.calls


def floor_ms(calls: list[tuple], repeats: int = 15) -> float:
    """Sum over the products of each one's fastest warm run, ms."""
    total = 0.0
    for a, b, out in calls:
        _real_matmul(a, b, out=out)  # warm: operands into cache, BLAS buffers allocated
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            _real_matmul(a, b, out=out)
            best = min(best, time.perf_counter() - t0)
        total += best
    return 1e3 * total


def gflop(calls: list[tuple]) -> float:
    """Multiply-adds x 2 of the products, GFLOP."""
    flops = 0
    for a, b, _ in calls:
        m, k = a.shape[-2:] if a.ndim > 1 else (1, a.shape[0])
        n = b.shape[-1] if b.ndim > 1 else 1
        batch = np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), dtype=np.int64)
        flops += 2 * int(batch) * m * k * n
    return flops / 1e9
