"""Nothing is lost or overwritten: run folders are claimed atomically, a run never writes into a
folder of other files, export/predict never write over the run they read (nor any file without
--force), and a run stopped before its first checkpoint restarts under --resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hardening_helpers import IRIS, IRIS_CSV, copy_run, iris_spec_copy, run, train_iris
from netspec.training.run_files import claim_run_dir


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    return train_iris(tmp_path_factory.mktemp("runs") / "run")


def test_claim_gives_each_caller_its_own_folder(tmp_path):
    got = [claim_run_dir(tmp_path / "runs" / "m") for _ in range(3)]
    assert [p.name for p in got] == ["m", "m-2", "m-3"]


def test_two_concurrent_trains_of_one_spec_get_two_runs(tmp_path):
    spec = iris_spec_copy(tmp_path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from netspec_cli.main import main; main()", "train", str(spec), "--epochs", "3", "--json"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        docs.append(json.loads(out))
    dirs = sorted(Path(d["run_dir"]).name for d in docs)
    assert dirs == ["iris-mlp", "iris-mlp-2"]
    for d in dirs:  # each folder holds one whole run: its spec, its weights, its result
        folder = tmp_path / "runs" / d
        assert {"spec.json", "model.safetensors", "result.json", "metrics.csv"} <= set(os.listdir(folder))
        assert len((folder / "metrics.csv").read_text().splitlines()) == 4


def test_out_into_a_folder_of_other_files_is_refused(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "result.json").write_text("my own results")
    res = run("train", IRIS, "--out", mine, "--epochs", "1")
    assert res.exit_code == 1 and "not a run folder" in res.stderr
    assert (mine / "result.json").read_text() == "my own results"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("train", IRIS, "--out", empty, "--epochs", "1").exit_code == 0


@pytest.mark.parametrize("cmd", [
    ("export", "{run}", "-o", "{run}/model.safetensors"),
    ("export", "{run}", "-o", "{run}/spec.json", "--force"),
    ("predict", "{run}", "--input", str(IRIS_CSV), "--output", "{run}/spec.json"),
    ("predict", "{run}", "--input", str(IRIS_CSV), "--output", "{run}/last.safetensors", "--force"),
    ("predict", "{run}", "--input", "{tmp}/in.csv", "--output", "{tmp}/in.csv", "--force"),
])
def test_commands_never_write_over_the_run_they_read(cmd, iris_run, tmp_path):
    folder = copy_run(iris_run, tmp_path / "run")
    (tmp_path / "in.csv").write_bytes(IRIS_CSV.read_bytes())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    res = run(*[c.format(run=folder, tmp=tmp_path) for c in cmd])
    assert res.exit_code == 1 and "this command reads" in res.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert (tmp_path / "in.csv").read_bytes() == IRIS_CSV.read_bytes()


def test_existing_output_needs_force(iris_run, tmp_path):
    target = tmp_path / "p.csv"
    target.write_text("keep me")
    res = run("predict", iris_run, "--input", IRIS_CSV, "--output", target)
    assert res.exit_code == 1 and "--force" in res.stderr and target.read_text() == "keep me"
    assert run("predict", iris_run, "--input", IRIS_CSV, "--output", target, "--force").exit_code == 0
    assert target.read_text().startswith("prediction,")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_text("keep")
    res = run("export", iris_run, "-o", onnx_file)
    assert res.exit_code == 1 and onnx_file.read_text() == "keep"


def test_run_stopped_before_its_first_checkpoint_restarts_under_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = iris_spec_copy(tmp_path)
    assert run("train", spec, "--epochs", "1").exit_code == 0
    folder = tmp_path / "runs" / "iris-mlp"
    for name in os.listdir(folder):  # as a kill -9 in epoch 1 leaves it: spec.json and a temp file
        if name != "spec.json":
            (folder / name).unlink()
    (folder / f".last.safetensors.netspec-tmp-999999999.x").write_bytes(b"\0" * 64)
    res = run("train", spec, "--epochs", "2", "--resume", "--json")
    assert res.exit_code == 0, res.stderr
    assert Path(json.loads(res.stdout)["run_dir"]).name == "iris-mlp"
    assert {"model.safetensors", "last.safetensors", "result.json"} <= set(os.listdir(folder))
    assert not [n for n in os.listdir(folder) if "netspec-tmp" in n]
    # a fresh run of the same spec is bit-identical to the restarted one
    assert run("train", spec, "--epochs", "2", "--out", tmp_path / "fresh").exit_code == 0
    from netspec.training.checkpoint import load_arrays

    a, b = load_arrays(folder / "model.safetensors"), load_arrays(tmp_path / "fresh" / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_restart_refuses_a_changed_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = iris_spec_copy(tmp_path)
    assert run("train", spec, "--epochs", "1").exit_code == 0
    folder = tmp_path / "runs" / "iris-mlp"
    for name in os.listdir(folder):
        if name != "spec.json":
            (folder / name).unlink()
    spec.write_text(spec.read_text().replace("batch_size = 16", "batch_size = 8"))
    res = run("train", spec, "--epochs", "1", "--resume")
    assert res.exit_code == 1 and "spec changed" in res.stderr
