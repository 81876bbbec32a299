"""ONNX export of hand-built graphs: validity, parity with the executor under onnxruntime at two
batch sizes and three opsets, metadata, dim_params, and the error paths."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import onnx
import pytest

import netspec
from netspec.compiler.compile import compile_spec
from netspec.errors import NetspecError
from netspec.executor.reference import forward_inference
from netspec.export import (
    IR_VERSIONS,
    OpsetError,
    ParityError,
    check_model,
    export_onnx,
    parity_report,
    raise_for_report,
    run_onnx,
)
from netspec.export.emitters import all_emitters, get_emitter
from netspec.export.errors import ExportError
from netspec.export.validate import training_behaviour
from netspec.kernels.registry import all_ops
from netspec.spec import load_spec

ort = pytest.importorskip("onnxruntime")

OPSETS = (13, 17, 21)
ATOL, RTOL = 1e-5, 1e-4


def build(tmp_path, layers: str, input_shape: str, loss: str = "mse", dtype: str = "float32"):
    text = (
        f'name = "t"\n[model]\ninput_shape = {input_shape}\ninput_dtype = "{dtype}"\n{layers}\n'
        f'[train]\nepochs = 1\nloss = "{loss}"\n'
    )
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return compile_spec(load_spec(path)).graph


def random_params(graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for p in graph.params:
        if p.kind == "state":  # running mean / var: var must be positive
            v = (
                rng.uniform(0.5, 1.5, p.shape)
                if p.name.endswith("var")
                else rng.normal(0, 0.3, p.shape)
            )
        else:
            v = rng.normal(0, 1 / np.sqrt(max(p.fan_in, 1)), p.shape)
        out[p.name] = v.astype(np.float32)
    return out


def layers_toml(*tables: str) -> str:
    return "\n".join(f"[[model.layers]]\n{t.strip()}\n" for t in tables)


def assert_close(got, want, classification=False):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= ATOL + RTOL * np.abs(want)), np.abs(got - want).max()
    if classification and want.shape[-1] > 1:
        assert np.array_equal(got.argmax(-1), want.argmax(-1))


def check_parity(graph, params, x, opsets=OPSETS, classification=False, **kw):
    """Export at each opset, validate, run onnxruntime at batch 1 and 37, compare with the executor."""
    for opset in opsets:
        model = export_onnx(graph, params, opset=opset, **kw)
        check_model(model)
        assert model.ir_version == IR_VERSIONS[opset]
        assert model.opset_import[0].version == opset
        assert training_behaviour(model) == []
        for b in (1, 37):
            xb = x[np.arange(b) % len(x)]
            assert_close(run_onnx(model, xb), forward_inference(graph, params, xb), classification)
    return model


MLP = layers_toml(
    'type = "dense"\nunits = 16\nactivation = "leaky_relu"',
    'type = "dropout"\nrate = 0.5',
    'type = "gaussian_noise"\nstddev = 0.3',
    'type = "batch_norm"\nepsilon = 0.001',
    'type = "activation"\nfunction = "leaky_relu"\nalpha = 0.2',
    'type = "dense"\nunits = 8\nactivation = "tanh"',
    'type = "dense"\nunits = 4\nactivation = "softmax"',
)


def test_mlp_dropout_noise_batchnorm_softmax(tmp_path):
    g = build(tmp_path, MLP, "[6]", loss="cross_entropy")
    params = random_params(g)
    x = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    model = check_parity(g, params, x, classification=True)
    ops = [n.op_type for n in model.graph.node]
    assert "Dropout" not in ops and ops.count("BatchNormalization") == 1
    alphas = [
        a.f
        for n in model.graph.node
        if n.op_type == "LeakyRelu"
        for a in n.attribute
        if a.name == "alpha"
    ]
    assert alphas == pytest.approx([0.01, 0.2])
    (bn,) = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    assert len(bn.output) == 1 and any(
        a.name == "epsilon" and abs(a.f - 1e-3) < 1e-9 for a in bn.attribute
    )


def test_standardization_embedded(tmp_path):
    g = build(
        tmp_path,
        layers_toml('type = "dense"\nunits = 3\nactivation = "softmax"'),
        "[5]",
        "cross_entropy",
    )
    params = random_params(g)
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=(37, 5)).astype(np.float32)
    x[:, 4] = 7.0  # a constant feature: std 0 must act as 1
    std = SimpleNamespace(mean=x.mean(0), std=x.std(0))
    assert std.std[4] == 0
    model = export_onnx(g, params, standardizer=std)
    check_model(model)
    assert (
        json.loads(json.dumps({p.key: p.value for p in model.metadata_props}))["standardized"]
        == "true"
    )
    safe = np.where(std.std == 0, 1, std.std).astype(np.float32)
    want = forward_inference(g, params, ((x - std.mean) / safe).astype(np.float32))
    assert_close(run_onnx(model, x), want, classification=True)
    with pytest.raises(ExportError, match="broadcast"):
        export_onnx(g, params, standardizer=SimpleNamespace(mean=np.zeros(4), std=np.ones(4)))


def test_sigmoid_output(tmp_path):
    layers = layers_toml(
        'type = "dense"\nunits = 7\nactivation = "relu"',
        'type = "dense"\nunits = 1\nactivation = "sigmoid"',
    )
    g = build(tmp_path, layers, "[4]", loss="binary_cross_entropy")
    params = random_params(g, seed=3)
    x = np.random.default_rng(3).normal(size=(50, 4)).astype(np.float32)
    model = check_parity(g, params, x)
    r = parity_report(model, lambda a: forward_inference(g, params, a), x)
    assert r["ok"] and r["task"] == "classification" and r["outputs"]["output"]["argmax_agrees"]


def test_rank3_dense_and_sequence_batch_norm(tmp_path):
    """(batch, time, features): dense becomes MatMul + Add, batch_norm over the last axis is
    wrapped in Transposes; checked at two sequence lengths."""
    layers = layers_toml(
        'type = "dense"\nunits = 6\nactivation = "sigmoid"',
        'type = "batch_norm"',
        'type = "dense"\nunits = 2\nuse_bias = false',
        'type = "dense"\nunits = 3',
    )
    g = build(tmp_path, layers, '["time", 4]')
    assert g.node("batch_norm_1").attrs["axis"] == 2
    params = random_params(g, seed=4)
    rng = np.random.default_rng(4)
    for t in (5, 9):
        x = rng.normal(size=(37, t, 4)).astype(np.float32)
        model = check_parity(g, params, x)
    ops = [n.op_type for n in model.graph.node]
    assert "Gemm" not in ops and ops.count("MatMul") == 3 and ops.count("Transpose") == 2
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "time", 4]
    out = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in out] == ["batch", "time", 3]
    x = rng.normal(size=(3, 8, 4)).astype(np.float32)
    r = parity_report(model, lambda a: forward_inference(g, params, a), x)
    assert r["ok"], r["failures"]
    assert sorted({tuple(c["input_shape"]) for c in r["cases"]}) == [
        (1, 5, 4),
        (1, 8, 4),
        (37, 5, 4),
        (37, 8, 4),
    ]


def test_residual_add_concat_dag(tmp_path):
    layers = layers_toml(
        'type = "dense"\nname = "a"\nunits = 8\nactivation = "relu"',
        'type = "dense"\nname = "b"\nunits = 8\nactivation = "tanh"',
        'type = "add"\nname = "res"\ninputs = ["a", "b"]',
        'type = "dense"\nname = "c"\nunits = 5\ninputs = ["input"]',
        'type = "concat"\nname = "cat"\ninputs = ["res", "c", "input"]',
        'type = "add"\nname = "res3"\ninputs = ["cat", "cat", "cat"]',
        'type = "dense"\nunits = 2\nactivation = "softmax"',
    )
    g = build(tmp_path, layers, "[5]", loss="cross_entropy")
    params = random_params(g, seed=5)
    x = np.random.default_rng(5).normal(size=(37, 5)).astype(np.float32)
    check_parity(g, params, x, classification=True)


def test_reshape_flatten_embedding(tmp_path):
    layers = layers_toml('type = "reshape"\nshape = [-1, 4]', 'type = "dense"\nunits = 3\nactivation = "relu"',
                         'type = "flatten"', 'type = "dense"\nunits = 2')  # fmt: skip
    g = build(tmp_path, layers, "[12]")
    params = random_params(g, seed=6)
    check_parity(g, params, np.random.default_rng(6).normal(size=(37, 12)).astype(np.float32))

    layers = layers_toml('type = "embedding"\nvocab_size = 11\ndim = 3', 'type = "flatten"',
                         'type = "dense"\nunits = 4\nactivation = "softmax"')  # fmt: skip
    g = build(tmp_path, layers, "[5]", loss="cross_entropy", dtype="int64")
    params = random_params(g, seed=7)
    ids = np.random.default_rng(7).integers(0, 11, size=(37, 5)).astype(np.int64)
    model = check_parity(g, params, ids, classification=True)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_metadata_dim_params_and_fresh_session(tmp_path):
    g = build(tmp_path, MLP, "[6]", loss="cross_entropy")
    params = random_params(g)
    model = export_onnx(
        g, params, class_names=["cat", "dog", "emu", "yak"], spec_hash="abc123", spec_name="zoo"
    )
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == ["cat", "dog", "emu", "yak"]
    assert (
        meta["spec_name"] == "zoo"
        and meta["spec_hash"] == "abc123"
        and meta["task"] == "classification"
    )
    assert meta["netspec_version"] == netspec.__version__
    assert model.producer_name == "netspec" and model.producer_version == netspec.__version__
    assert model.graph.name == "zoo"
    assert [i.name for i in model.graph.input] == [g.input_name] == ["input"]
    assert [o.name for o in model.graph.output] == ["output"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.ir_version == 8 and model.opset_import[0].version == 17  # the default

    path = tmp_path / "zoo.onnx"
    onnx.save(model, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(8).normal(size=(37, 6)).astype(np.float32)
    (y,) = sess.run(["output"], {"input": x})
    assert_close(y, forward_inference(g, params, x), classification=True)
    assert_close(run_onnx(path, x[:1]), forward_inference(g, params, x[:1]))


def test_trailing_identity_output_and_regression_task(tmp_path):
    layers = layers_toml('type = "dense"\nunits = 3', 'type = "dropout"\nrate = 0.2')
    g = build(tmp_path, layers, "[4]")
    params = random_params(g)
    model = check_parity(g, params, np.ones((3, 4), np.float32), opsets=(17,))
    assert model.graph.node[-1].op_type == "Identity" and model.graph.node[-1].output[0] == "output"
    assert {p.key: p.value for p in model.metadata_props}["task"] == "regression"


def test_a_hidden_layer_named_output_does_not_clash(tmp_path):
    layers = layers_toml(
        'type = "dense"\nname = "output"\nunits = 3\nactivation = "relu"',
        'type = "dense"\nunits = 2',
    )
    g = build(tmp_path, layers, "[4]")
    params = random_params(g)
    x = np.random.default_rng(10).normal(size=(37, 4)).astype(np.float32)
    model = check_parity(g, params, x, opsets=(17,))
    assert [o.name for o in model.graph.output] == ["output"]
    assert "output_2" in {o for n in model.graph.node for o in n.output}


@pytest.mark.parametrize("opset", [12, 22, 7, "17"])
def test_unsupported_opset_is_a_clear_error(tmp_path, opset):
    g = build(tmp_path, layers_toml('type = "dense"\nunits = 1'), "[2]")
    with pytest.raises(OpsetError) as info:
        export_onnx(g, random_params(g), opset=opset)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NetspecError)
    assert "13, 14, 15, 16, 17, 18, 19, 20, 21" in str(info.value)


def test_every_op_has_an_emitter():
    assert set(all_ops()) <= set(all_emitters())
    with pytest.raises(ExportError, match="known emitters: .*dense"):
        get_emitter("transformer")


def test_missing_or_misshapen_params_are_export_errors(tmp_path):
    g = build(tmp_path, layers_toml('type = "dense"\nunits = 3'), "[4]")
    params = random_params(g)
    with pytest.raises(ExportError, match="missing"):
        export_onnx(g, {k: v for k, v in params.items() if not k.endswith("bias")})
    with pytest.raises(ExportError, match="shape"):
        export_onnx(g, {**params, "dense_1.weight": np.zeros((3, 4), np.float32)})


def test_parity_failures_are_reported(tmp_path):
    g = build(tmp_path, MLP, "[6]", loss="cross_entropy")
    params = random_params(g)
    model = export_onnx(g, params)
    x = np.random.default_rng(9).normal(size=(37, 6)).astype(np.float32)
    good = parity_report(model, lambda a: forward_inference(g, params, a), x)
    assert good["ok"] and good["check"]["ok"] and good["inference_only"]["ok"]
    assert [c["batch"] for c in good["cases"]] == [1, 37]
    raise_for_report(good)
    json.dumps(good)  # JSON-able for `--json`

    bad = parity_report(model, lambda a: forward_inference(g, params, a)[:, ::-1], x)
    assert not bad["ok"] and not bad["outputs"]["output"]["within_tolerance"]
    assert bad["outputs"]["output"]["argmax_agrees"] is False
    with pytest.raises(ParityError, match="does not match") as info:
        raise_for_report(bad)
    assert info.value.exit_code == 1

    # training-only behaviour is caught: a Dropout node and a training-mode BatchNormalization
    tampered = onnx.ModelProto()
    tampered.CopyFrom(model)
    for n in tampered.graph.node:
        if n.op_type == "BatchNormalization":
            for a in n.attribute:
                if a.name == "training_mode":
                    a.i = 1
    tampered.graph.node.append(onnx.helper.make_node("Dropout", ["output"], ["dropped"]))
    problems = training_behaviour(tampered)
    assert any("Dropout" in p for p in problems) and any("training_mode" in p for p in problems)
