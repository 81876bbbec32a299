"""The bench tools README's bounds rest on. gemm_floor.py must see every product a plan runs (an
MLP's inference products are exactly its dense layers' multiply-adds), tag each with its node,
and replay operands in the layout BLAS saw (a transposed view stays transposed);
profile_phases.py must charge a conv network's time to the kinds of work inside the real plan
and leave the kernels as it found them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from netspec.executor import ParamStore
from netspec.executor.plan import Plan
from shape_helpers import build

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import gemm_floor  # noqa: E402
import profile_phases  # noqa: E402


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


def test_phases_split_a_conv_step_by_kind_of_work(tmp_path):
    spec = tmp_path / "small_cnn.toml"
    spec.write_text("""name = "small_cnn"
[model]
input_shape = [1, 12, 12]
layers = [
  { type = "conv2d", filters = 4, kernel_size = 3, padding = "same", activation = "relu" },
  { type = "max_pool2d", pool_size = 2 },
  { type = "conv2d", filters = 6, kernel_size = 3, padding = "same", activation = "relu" },
  { type = "max_pool2d", pool_size = 2 },
  { type = "flatten" },
  { type = "dense", units = 3, activation = "softmax" },
]
[train]
epochs = 1
batch_size = 8
loss = "cross_entropy"
""")
    before = [(m, name, getattr(m, name)) for m, name, _ in profile_phases.PIECES]
    result = profile_phases.measure(str(spec), batch=8, infer_batch=16, repeats=2)
    assert before == [(m, name, getattr(m, name)) for m, name, _ in profile_phases.PIECES]
    assert np.matmul is gemm_floor._real_matmul
    for mode, kinds in (("train", {"matrix products", "columns (im2col)", "col2im", "max-pool passes",
                                   "max-pool gradient", "padding"}),
                        ("infer", {"matrix products", "columns (im2col)", "max-pool passes", "padding"})):  # fmt: skip
        pieces = result[mode]["pieces"]
        assert {kind for _, kind in pieces} >= kinds
        assert {node for node, kind in pieces if kind == "max-pool passes"} == {"conv2d_1.pre", "conv2d_2.pre"}
        assert 0 < sum(pieces.values()) <= result[mode]["total_ms"]
    assert "other" in profile_phases.render(str(spec), 8, 16, result)


def test_gemm_layouts_names_the_transposed_operands_of_a_step():
    """mlp_digits' backward takes dX = dy @ W^T with W^T a transposed view: the layouts tool
    must list it as such, once per dense layer that needs dX, with both times measured."""
    import gemm_layouts

    rows = gemm_layouts.step_products("mlp_digits")
    transposed_right = {key[0]: n for key, (n, laid, contiguous) in rows.items()
                        if key[4] == "T" and laid > 0 and contiguous > 0}  # fmt: skip
    assert transposed_right == {"dense_2.pre": 1, "dense_3.pre": 1}  # dense_1 needs no dX
    assert gemm_layouts._layout(np.ones(3)) == "v"
