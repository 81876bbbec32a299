"""Serving a user's .onnx file never trusts it: bad metadata, absurd initializer sizes, unknown
ops, external data, more outputs than class names, garbage bytes and devices are exit 1 naming
the file, and an empty batch gives an empty result (never batch 0 to onnxruntime)."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest

from hardening_helpers import IRIS_CSV, run, train_iris


@pytest.fixture(scope="module")
def iris_onnx(tmp_path_factory):
    folder = train_iris(tmp_path_factory.mktemp("onnx") / "run")
    path = folder.parent / "iris.onnx"
    res = run("export", folder, "-o", path)
    assert res.exit_code == 0, res.stderr
    return path


def _edited(src, dest, edit):
    model = onnx.load(str(src))
    edit(model)
    dest.write_bytes(model.SerializeToString())
    return dest


def _set_meta(model, key, value):
    for p in model.metadata_props:
        if p.key == key:
            p.value = value
            return
    model.metadata_props.add(key=key, value=value)


@pytest.mark.parametrize("edit, says", [
    (lambda m: _set_meta(m, "netspec_spec", "{not json"), "'netspec_spec' is not JSON"),
    (lambda m: _set_meta(m, "netspec_spec", "[1, 2]"), "must be a JSON object"),
    (lambda m: _set_meta(m, "class_names", "3"), "'class_names' must be a JSON list of strings"),
    (lambda m: _set_meta(m, "feature_names", '{"a": 1}'), "'feature_names' must be a JSON list"),
    (lambda m: _set_meta(m, "class_names", '["a", "b"]'), "2 class names for a model with 3 output units"),
    (lambda m: _set_meta(m, "task", "regression"), "disagree with its spec"),
    (lambda m: m.graph.node[1].__setattr__("op_type", "NoSuchOp"), "onnxruntime cannot load the model"),
    (lambda m: m.graph.initializer[0].dims.__setitem__(0, 10**9), "declares dims"),
    (lambda m: m.graph.initializer[0].dims.extend([10**6, 10**6]), "more than the"),
    (lambda m: m.graph.initializer[0].__setattr__("data_location", onnx.TensorProto.EXTERNAL), "external file"),
])
def test_hostile_onnx_is_a_located_error(edit, says, iris_onnx, tmp_path):
    bad = _edited(iris_onnx, tmp_path / "bad.onnx", edit)
    res = run("predict", bad, "--input", IRIS_CSV, "--json")
    assert res.exit_code == 1, (res.exit_code, res.stderr)
    assert says in res.stderr and "bad.onnx" in res.stderr
    assert json.loads(res.stdout)["ok"] is False


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"sepal_length,species\n1,a\n"])
def test_garbage_onnx_bytes(content, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    res = run("predict", bad, "--input", IRIS_CSV)
    assert res.exit_code == 1 and "bad.onnx" in res.stderr


def test_onnx_linked_to_a_device(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    os.symlink("/dev/zero", tmp_path / "m.onnx")
    res = run("predict", tmp_path / "m.onnx", "--input", IRIS_CSV)
    assert res.exit_code == 1 and "device" in res.stderr


def test_empty_batch_gives_an_empty_result(iris_onnx):
    from netspec.export.serve import OnnxModel

    model = OnnxModel(iris_onnx)
    out = model.predict(np.zeros((0, 4), np.float32))
    assert out.shape == (0, 3)


def test_empty_batch_on_a_recurrent_model(tmp_path):
    from test_sequences import train_with

    from netspec.export.serve import OnnxModel, export_run

    res = train_with(tmp_path, "e", 0.0, 0)
    path = tmp_path / "seq.onnx"
    assert export_run(res.model, path)["ok"]
    model = OnnxModel(path)
    empty = np.zeros((0, 5, 2), np.float32)
    assert model.predict(empty, np.zeros(0, np.int64)).shape[0] == 0
    assert res.model.predict(empty, np.zeros(0, np.int64), raw=False).shape[0] == 0
