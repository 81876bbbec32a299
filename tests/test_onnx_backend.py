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
- "_with_argmax", "_uint8": MaxPool's Indices output; integer pooling.
- "_bidirectional", "_reverse", "_peepholes": forward-only RNN/LSTM without peepholes.
Not included at all: Add on integer types (float kernels), GatherElements (not Gather), 3-D
conv/pools (netspec has 1-D and 2-D), ConvInteger/ConvTranspose, Reduce* (the exporter emits
them but the IR has no general reduction op).
"""

from __future__ import annotations

import re
import warnings

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
EXCLUDE = [r"_expanded", r"_training_mode", r"_ceil", r"_dilations", r"_count_include_pad", r"_uint8",
           r"_with_argmax", r"_bidirectional", r"_reverse", r"_peepholes"]  # fmt: skip

ENABLED = [ops for ops, _ in FAMILIES if all(get_op(op).forward is not None for op in ops)]

with warnings.catch_warnings():  # generating ONNX's test data warns about overflows it intends
    warnings.simplefilter("ignore", RuntimeWarning)
    backend_test = onnx.backend.test.BackendTest(NetspecBackend, __name__)
INCLUDED = [p for ops, patterns in FAMILIES if ops in ENABLED for p in patterns]
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
