"""ONNX's own node tests run on the executor's kernels (netspec.export.backend).

Include patterns select the node tests of the ops netspec implements (a family is included once
its forward kernel is registered, so a half-built tree still passes). Tests of features netspec
does not claim are either left out by the include patterns or excluded below; the excluded ones
show as skips with the pattern that matched:
- "_expanded": the function-body expansions of Softmax (and LeakyRelu/Relu) use ops netspec does
  not implement (Exp, ReduceMax, Where, ...); the ops themselves are tested.
- "_training_mode": netspec runs and exports batch norm in inference form only.
- "_ceil", "_dilations": netspec pools in floor mode without dilation.
- "_count_include_pad": netspec's average pooling leaves padding out of the count.
Every exclude pattern matches an included test (checked below), so none is dead.
Not included at all (the include patterns leave them out): MaxPool's Indices output and integer
pooling, bidirectional/reverse/peephole RNNs, training-mode batch norm, Add/Sub/Div on integer
types (float kernels), GatherElements (not Gather), 3-D conv/pools (netspec has 1-D and 2-D),
ConvInteger/ConvTranspose, Reduce* on booleans or empty sets.
Every op type the exporter emits has node tests here (checked below: GLUE covers the
structural ops around the kernels: Sub, Div, ReduceMean, ReduceMax, Transpose, Squeeze, Identity).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import onnx.backend.test

from netspec.export.backend import NetspecBackend
from netspec.kernels.registry import get_op

# (IR ops whose kernels the patterns exercise, include patterns)
FAMILIES = [
    (("relu",), [r"^test_relu_cpu$"]),
    (("sigmoid",), [r"^test_sigmoid(_example)?_cpu$"]),
    (("tanh",), [r"^test_tanh(_example)?_cpu$"]),
    (("leaky_relu",), [r"^test_leakyrelu(_default|_example)?_cpu$"]),
    (("softmax",), [r"^test_softmax_[a-z0-9_]+_cpu$"]),
    (("dense",), [r"^test_gemm_[a-zA-Z_]+_cpu$", r"^test_matmul_[a-z0-9_]+_cpu$"]),
    (("add",), [r"^test_add(_bcast)?_cpu$"]),
    (("concat",), [r"^test_concat_[a-z0-9_]+_cpu$"]),
    (("batch_norm",), [r"^test_batchnorm_(example|epsilon)_cpu$"]),
    (("flatten",), [r"^test_flatten_[a-z0-9_]+_cpu$"]),
    (("reshape",), [r"^test_reshape_[a-z_]+_cpu$"]),
    (("embedding",), [r"^test_gather_(0|1|2d_indices|negative_indices)_cpu$"]),
    (("conv",), [r"^test_basic_conv_with(out)?_padding_cpu$", r"^test_conv_with_[a-z_]+_cpu$"]),
    (("max_pool",), [r"^test_maxpool_[12]d_[a-z_]+_cpu$"]),
    (("avg_pool",), [r"^test_averagepool_[12]d_[a-z_]+_cpu$"]),
    (("global_avg_pool",), [r"^test_globalaveragepool(_precomputed)?_cpu$"]),
    (("global_max_pool",), [r"^test_globalmaxpool(_precomputed)?_cpu$"]),
    (
        ("rnn",),
        [
            r"^test_simple_rnn_(defaults|with_initial_bias|batchwise)_cpu$",
            r"^test_rnn_seq_length_cpu$",
        ],
    ),
    (("lstm",), [r"^test_lstm_(defaults|with_initial_bias|batchwise)_cpu$"]),
]
# The structural ops the exporter emits around the kernels (backend_glue.py): no IR op of their own.
GLUE = [
    r"^test_sub(_bcast|_example)?_cpu$", r"^test_div(_bcast|_example)?_cpu$", r"^test_mul(_bcast|_example)?_cpu$",
    r"^test_reduce_mean_(default_axes_keepdims|do_not_keepdims|keepdims|negative_axes_keepdims)_(example|random)_cpu$",
    r"^test_reduce_max_(default_axes_keepdims?|do_not_keepdims|keepdims|negative_axes_keepdims)_(example|random)_cpu$",
    r"^test_transpose_(default|all_permutations_[0-9])_cpu$", r"^test_squeeze(_negative_axes)?_cpu$",
    r"^test_identity_cpu$",
    # sequence exports (backend_sequence_glue.py): the padded-step mask, repeat, the lstm state split
    r"^test_shape(_example|_start_1|_end_1|_clip_start|_clip_end|_end_negative_1)?_cpu$",
    r"^test_cast_FLOAT_to_DOUBLE_cpu$", r"^test_range_(float|int32)_type_[a-z_]+_delta_cpu$",
    r"^test_less(_bcast)?_cpu$", r"^test_where(_long)?_example_cpu$",
    r"^test_unsqueeze_[a-z0-9_]+_cpu$", r"^test_expand_dim_(un)?changed_cpu$",
    r"^test_slice(_default_axes|_default_steps|_end_out_of_bounds|_neg|_neg_steps|_negative_axes)?_cpu$",
    r"^test_split_(equal_parts_2d_opset13|variable_parts_2d_opset13|equal_parts_1d_opset13)_cpu$",
]  # fmt: skip
# Op types exported without a node test that applies, and why (checked elsewhere).
NO_NODE_TESTS = {
    "GRU": "ONNX's GRU node tests all use linear_before_reset = 0; netspec's GRU is PyTorch's (1), "
           "checked against onnxruntime (tests/test_seq_export.py) and torch.nn.GRU (tests/test_seq_kernels.py)",
}  # fmt: skip
EXCLUDE = [r"_expanded", r"_ceil", r"_dilations", r"_count_include_pad"]

ENABLED = [ops for ops, _ in FAMILIES if all(get_op(op).forward is not None for op in ops)]

with warnings.catch_warnings():  # generating ONNX's test data warns about overflows it intends
    warnings.simplefilter("ignore", RuntimeWarning)
    backend_test = onnx.backend.test.BackendTest(NetspecBackend, __name__)
INCLUDED = [p for ops, patterns in FAMILIES if ops in ENABLED for p in patterns] + GLUE
for p in INCLUDED:
    backend_test.include(p)
for p in EXCLUDE:
    backend_test.exclude(p)

# Keep the node tests only, and drop the ~1,800 tests of ops netspec never claims (they would
# show as skips); excluded tests among the included ones stay visible as skips with the reason.
_node_tests = backend_test.test_cases["OnnxBackendNodeModelTest"]
for _name in [n for n in vars(_node_tests) if n.startswith("test_")]:
    if not any(re.search(p, _name) for p in INCLUDED):
        delattr(_node_tests, _name)
globals().update({"OnnxBackendNodeModelTest": _node_tests})
del _node_tests  # unittest classes are collected under any name: keep one reference


_ALL_NODE_TESTS = [n for n in vars(backend_test.test_cases["OnnxBackendNodeModelTest"]) if n.startswith("test_")]


def test_every_exclude_pattern_matches_an_included_test():
    included = [n for n in _ALL_NODE_TESTS if any(re.search(p, n) for p in INCLUDED)]
    dead = [p for p in EXCLUDE if not any(re.search(p, n) for n in included)]
    assert not dead, f"exclude patterns that match no included test: {dead}"


def test_every_include_pattern_selects_tests():
    empty = [p for p in INCLUDED if not any(re.search(p, n) for n in _ALL_NODE_TESTS)]
    assert not empty, empty


def test_every_op_type_the_exporter_emits_has_node_tests():
    from netspec.export.backend import HANDLERS
    emitted = _emitted_op_types()
    runnable = [n for n in _ALL_NODE_TESTS if any(re.search(p, n) for p in INCLUDED)]
    for op in sorted(set(emitted) - set(NO_NODE_TESTS)):
        assert op in HANDLERS, f"{op} has no conformance handler"
        stem = "test_" + re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
        stem = {"test_gemm": "test_gemm", "test_l_s_t_m": "test_lstm", "test_r_n_n": "test_rnn",
                "test_batch_normalization": "test_batchnorm", "test_leaky_relu": "test_leakyrelu",
                "test_max_pool": "test_maxpool", "test_average_pool": "test_averagepool",
                "test_global_average_pool": "test_globalaveragepool", "test_global_max_pool": "test_globalmaxpool",
                "test_mat_mul": "test_matmul", "test_conv": "test_conv"}.get(stem, stem)  # fmt: skip
        alt = {"test_rnn": "test_simple_rnn", "test_conv": "test_basic_conv"}.get(stem, stem)
        assert any(n.startswith((stem, alt)) for n in runnable), f"no node test runs for {op}"


def _emitted_op_types() -> set[str]:
    """Op types the exporter can write: every ONNX op name spelled in its source, plus those in
    exports of the example specs (with standardization, and lengths for recurrent ones)."""
    import numpy as np
    import onnx.defs

    import netspec
    from netspec.compiler import compile_spec
    from netspec.executor import ParamStore
    from netspec.export.onnx_export import export_onnx

    root = Path(__file__).resolve().parent.parent
    seen: set[str] = set()
    for source in (root / "netspec" / "export").rglob("*.py"):
        if source.name.startswith("backend") or source.name in ("validate.py", "model_file.py"):  # readers, not writers
            continue
        seen |= {w for w in re.findall(r'"([A-Z][A-Za-z]+)"', source.read_text()) if onnx.defs.has(w)}
    for spec_file in sorted((root / "specs").glob("*.toml")):
        spec = netspec.load(spec_file)
        compiled = compile_spec(spec)
        store = ParamStore.create(compiled.graph, np.float32, np.random.default_rng(0))
        std = None
        if spec.model.input_dtype != "int64":
            from netspec.data import Standardizer

            shape = [1 if isinstance(d, str) else d for d in spec.model.input_shape]
            std = Standardizer(np.zeros(shape), np.ones(shape))
        recurrent = any(ly.type in ("lstm", "rnn") for ly in spec.model.layers)
        model = export_onnx(compiled.graph, store.values, standardizer=std, sequence_lengths=recurrent)
        seen |= {node.op_type for node in model.graph.node}
    return seen
