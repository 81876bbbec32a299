"""bench/gemm_floor.py, which README's floors table rests on: it must see every product a plan
runs (an MLP's inference products are exactly its dense layers' multiply-adds), tag each with
its node, and replay operands in the layout BLAS saw (a transposed view stays transposed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from netspec.executor import ParamStore
from netspec.executor.plan import Plan
from shape_helpers import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gemm_floor  # noqa: E402


def _mlp():
    layers = [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 3}]
    graph = build([8], *layers).graph
    return Plan(graph, ParamStore.create(graph, np.float64, np.random.default_rng(0)))


def test_the_recorder_sees_every_product_of_a_plan_call():
    plan = _mlp()
    x = np.random.default_rng(1).standard_normal((5, 8))
    kernels = [(st.infer_forward, st.train_forward, st.train_backward) for st in plan.steps]
    calls = gemm_floor.record(plan, lambda: plan.predict(x))
    assert sorted(calls) == ["dense_1.pre", "dense_2"]
    flat = [c for per_node in calls.values() for c in per_node]
    assert gemm_floor.gflop(flat) * 1e9 == 2 * 5 * (8 * 16 + 16 * 3)
    assert gemm_floor.floor_ms(flat, repeats=2) > 0
    # numpy and the plan's kernels are restored after recording
    assert np.matmul is gemm_floor._real_matmul
    assert kernels == [(st.infer_forward, st.train_forward, st.train_backward) for st in plan.steps]


def test_replayed_operands_keep_the_layout_blas_saw():
    a = np.arange(12.0).reshape(3, 4)
    for view in (a.T, a[:, 1:3], a[::2]):
        copy = gemm_floor._like(view)
        assert copy.strides == view.strides and not np.shares_memory(copy, a)
        np.testing.assert_array_equal(copy, view)
