"""Tampered or hostile run files are refused (exit 1, naming the tensor, key or file), never
trusted and never an internal error: safetensors headers are checked before anything is
allocated, checkpoint metadata and weights must have the types and shapes netspec wrote, the
standardizer must fit the input, spec.json must still match the stored spec hash."""

from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hardening_helpers import IRIS_CSV, copy_run, iris_spec_copy, run, train_iris


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    return train_iris(tmp_path_factory.mktemp("tamper") / "run")


def _rewrite(path, arrays=None, meta_edit=None):
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    arrays = arrays if arrays is not None else load_file(str(path))
    if meta_edit is not None:
        inner = json.loads(meta["netspec"])
        meta_edit(inner)
        meta = {**meta, "netspec": json.dumps(inner)}
    save_file(arrays, str(path), metadata=meta)


def _predict(folder):
    return run("predict", folder, "--input", IRIS_CSV)


def test_model_linked_to_dev_zero_fails_fast(iris_run, tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    folder = copy_run(iris_run, tmp_path / "run")
    (folder / "model.safetensors").unlink()
    os.symlink("/dev/zero", folder / "model.safetensors")
    start = time.monotonic()
    res = _predict(folder)
    assert res.exit_code == 1 and "device" in res.stderr and time.monotonic() - start < 20


@pytest.mark.parametrize("blob, says", [
    (struct.pack("<Q", 2**40) + b"{}", "header declares"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (b"\x01\x02", "shorter than the 8-byte"),
])
def test_absurd_safetensors_headers(blob, says, iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    (folder / "model.safetensors").write_bytes(blob)
    res = _predict(folder)
    assert res.exit_code == 1 and says in res.stderr and "model.safetensors" in res.stderr


def test_tensor_declaring_more_bytes_than_the_file_holds(iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    header = json.dumps({"w": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 16]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    res = _predict(folder)
    assert res.exit_code == 1 and "'w'" in res.stderr and "needs 40000000000 bytes" in res.stderr


@pytest.mark.parametrize("key, value", [
    ("class_names", 3), ("class_names", [1, 2, 3]), ("epoch", "3"), ("history", [1, 2]),
    ("standardizer", "x"), ("epochs", -1),
])
def test_checkpoint_metadata_of_the_wrong_type(key, value, iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    for name in ("model.safetensors", "last.safetensors"):
        _rewrite(folder / name, meta_edit=lambda m: m.__setitem__(key, value))
    res = _predict(folder)
    assert res.exit_code == 1 and f"metadata {key!r}" in res.stderr
    res = run("train", iris_spec_copy(tmp_path), "--out", folder, "--resume", "--epochs", "3")
    assert res.exit_code == 1 and f"metadata {key!r}" in res.stderr


@pytest.mark.parametrize("change, says", [
    (lambda a: a.__setitem__("hidden.bias", a["hidden.bias"][:1]), "has shape [1], the model needs [16]"),
    (lambda a: a.__setitem__("hidden.weight", a["hidden.weight"].astype(np.int8)), "dtype int8"),
    (lambda a: a.__setitem__("hidden.weight", a["hidden.weight"] > 0), "dtype bool"),
    (lambda a: a["output.bias"].__setitem__(0, np.nan), "NaN"),
    (lambda a: a.pop("output.bias"), "missing weight 'output.bias'"),
])
def test_weights_of_wrong_shape_dtype_or_nan(change, says, iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    for name in ("model.safetensors", "last.safetensors"):
        arrays = load_file(str(folder / name))
        change(arrays)
        _rewrite(folder / name, arrays)
    res = _predict(folder)
    assert res.exit_code == 1 and says in res.stderr, res.stderr
    res = run("train", iris_spec_copy(tmp_path), "--out", folder, "--resume", "--epochs", "3")
    assert res.exit_code == 1 and says in res.stderr, res.stderr


def test_standardizer_of_the_wrong_length(iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")

    def shorten(meta):
        std = meta["standardizer"]
        meta["standardizer"] = {"shape": [3], "mean": std["mean"][:3], "std": std["std"][:3]}

    _rewrite(folder / "model.safetensors", meta_edit=shorten)
    res = _predict(folder)
    assert res.exit_code == 1 and "standardizer has shape [3]" in res.stderr


def test_edited_spec_json_is_refused(iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    doc = json.loads((folder / "spec.json").read_text())
    doc["model"]["layers"][0]["activation"] = "tanh"  # same shapes: the weights would still load
    (folder / "spec.json").write_text(json.dumps(doc))
    res = _predict(folder)
    assert res.exit_code == 1 and "spec.json: was edited after training" in res.stderr


def test_init_from_with_nan_weights_is_not_called_divergence(iris_run, tmp_path):
    source = copy_run(iris_run, tmp_path / "src") / "model.safetensors"
    arrays = load_file(str(source))
    arrays["hidden.weight"][0, 0] = np.nan
    _rewrite(source, arrays)
    spec = iris_spec_copy(tmp_path)
    spec.write_text(spec.read_text().replace("[train]", f'[train]\ninit_from = "{source.as_posix()}"'))
    res = run("train", spec, "--out", tmp_path / "r", "--epochs", "1")
    assert res.exit_code == 1 and "train.init_from" in res.stderr and "'hidden.weight'" in res.stderr
    assert "training diverged" not in res.stderr and res.exit_code != 3


def test_empty_init_from_is_an_error(tmp_path):
    spec = iris_spec_copy(tmp_path)
    spec.write_text(spec.read_text().replace("[train]", '[train]\ninit_from = ""'))
    res = run("check", spec)
    assert res.exit_code == 1 and "train.init_from: is empty" in res.stderr
