"""The ONNX serving contract written in the README ("Serving an exported model"), checked on
real exports: input/output names, dtypes and dims, the int32 `lengths` input and what padded
steps may hold, probabilities out (a binary model's one column is P(class_names[1])), every
metadata_props key, the smallest size of symbolic dims, and no removable Transpose pairs."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hardening_helpers import ROOT, run

METADATA_KEYS = {"class_names", "spec_name", "spec_hash", "netspec_version", "task", "standardized",
                 "netspec_spec", "feature_names", "loss", "min_input_sizes", "target_scaled", "input_kind"}  # fmt: skip


def _io(model):
    def describe(v):
        t = v.type.tensor_type
        return v.name, t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim]

    return [describe(v) for v in model.graph.input], [describe(v) for v in model.graph.output]


def _export(tmp_path, spec, epochs=2):
    folder = tmp_path / "run"
    assert run("train", spec, "--out", folder, "--epochs", epochs).exit_code == 0
    path = tmp_path / "m.onnx"
    res = run("export", folder, "-o", path)
    assert res.exit_code == 0, res.stderr
    return folder, path, onnx.load(str(path))


def _meta(model):
    return {p.key: p.value for p in model.metadata_props}


def test_multiclass_contract(tmp_path):
    folder, path, model = _export(tmp_path, ROOT / "specs" / "iris_mlp.toml")
    inputs, outputs = _io(model)
    assert inputs == [("input", onnx.TensorProto.FLOAT, ["batch", 4])]
    assert outputs == [("output", onnx.TensorProto.FLOAT, ["batch", 3])]
    meta = _meta(model)
    assert set(meta) == METADATA_KEYS
    assert json.loads(meta["class_names"]) == ["setosa", "versicolor", "virginica"]
    assert meta["task"] == "classification" and meta["standardized"] == "true"
    assert json.loads(meta["min_input_sizes"]) == {}
    raw = np.loadtxt(ROOT / "datasets" / "iris.csv", delimiter=",", skiprows=1, usecols=range(4), dtype=np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 37):  # raw inputs in: standardization is inside the graph
        probs = sess.run(["output"], {"input": raw[:batch]})[0]
        assert probs.shape == (batch, 3)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # probabilities, not logits


def test_binary_column_is_p_of_the_second_class(tmp_path):
    folder, path, model = _export(tmp_path, ROOT / "specs" / "breast_cancer.toml")
    inputs, outputs = _io(model)
    assert outputs[0][2] == ["batch", 1]
    names = json.loads(_meta(model)["class_names"])
    assert len(names) == 2
    res = run("predict", path, "--input", ROOT / "datasets" / "breast_cancer.csv", "--json")
    doc = json.loads(res.stdout)
    column = doc["columns"].index(f"p_{names[1]}")
    feature_names = json.loads(_meta(model)["feature_names"])
    import csv

    with open(ROOT / "datasets" / "breast_cancer.csv") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[c]) for c in feature_names] for r in rows[:20]], np.float32)
    p = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0][:, 0]
    np.testing.assert_allclose(p, [r[column] for r in doc["rows"][:20]], rtol=1e-5, atol=1e-6)
    assert all((pi >= 0.5) == (r[0] == names[1]) for pi, r in zip(p, doc["rows"]))


def test_sequence_contract_lengths_and_padding(tmp_path):
    from test_sequences import train_with

    from netspec.export.serve import export_run

    res = train_with(tmp_path, "s", 0.0, 0)
    path = tmp_path / "seq.onnx"
    assert export_run(res.model, path)["ok"]
    model = onnx.load(str(path))
    inputs, outputs = _io(model)
    assert inputs == [("input", onnx.TensorProto.FLOAT, ["batch", "time", 2]),
                      ("lengths", onnx.TensorProto.INT32, ["batch"])]  # fmt: skip
    assert outputs == [("output", onnx.TensorProto.FLOAT, ["batch", "time", 3])]
    assert json.loads(_meta(model)["min_input_sizes"]) == {"time": 1}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 2)).astype(np.float32)
    lengths = np.array([7, 4, 1], np.int32)
    y = sess.run(None, {"input": x, "lengths": lengths})[0]
    x2 = x.copy()
    x2[1, 4:] = 1e6  # padded steps may hold any finite value: real steps do not change
    x2[2, 1:] = -3.0
    y2 = sess.run(None, {"input": x2, "lengths": lengths})[0]
    for i, n in enumerate(lengths):
        np.testing.assert_array_equal(y[i, :n], y2[i, :n])
        np.testing.assert_allclose(y[i, :n].sum(-1), 1.0, rtol=1e-5)
    for steps in (7, 12):  # two sequence lengths, two batch sizes: the symbolic dims are free
        for batch in (1, 5):
            xb = rng.standard_normal((batch, steps, 2)).astype(np.float32)
            lb = np.full(batch, steps, np.int32)
            np.testing.assert_allclose(sess.run(None, {"input": xb, "lengths": lb})[0],
                                       res.model.predict(xb, lb), rtol=1e-4, atol=1e-5)  # fmt: skip


STACKED = """
name = "stacked"
[model]
input_shape = ["time", 3]
[[model.layers]]
type = "lstm"
units = 5
return_sequences = true
[[model.layers]]
type = "{second}"
units = 4
return_sequences = true
[[model.layers]]
type = "lstm"
units = 4
[[model.layers]]
type = "dense"
units = 2
activation = "softmax"
[train]
epochs = 1
loss = "cross_entropy"
"""


@pytest.mark.parametrize("second", ["lstm", "rnn"])
def test_stacked_recurrent_layers_emit_no_transpose_pair(second):
    import netspec
    from netspec.api import Model
    from netspec.executor import ParamStore
    from netspec.export.onnx_export import export_onnx
    from netspec.spec.load import parse_text, validate_data

    data, smap = parse_text(STACKED.format(second=second), "stacked.toml", "toml")
    spec = validate_data(data, smap)
    compiled = netspec.compile(spec)
    store = ParamStore.create(compiled.graph, np.float32, np.random.default_rng(0))
    proto = export_onnx(compiled.graph, store.values)
    transposes = [n for n in proto.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == 1, [n.name for n in transposes]  # only the input's (batch, time) swap
    model = Model(spec, compiled, store)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch, steps in ((1, 6), (4, 9)):
        x = rng.standard_normal((batch, steps, 3)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"input": x})[0], model.predict(x), rtol=1e-4, atol=1e-5)
