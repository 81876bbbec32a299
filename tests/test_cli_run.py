"""The run commands as a user drives them: train -> eval -> predict -> export -> predict .onnx,
each with --json (one document on stdout) and with human output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hardening_helpers import run  # one CLI runner for the CLI tests

ROOT = Path(__file__).resolve().parent.parent
IRIS = ROOT / "specs" / "iris_mlp.toml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    res = run("train", IRIS, "--out", out, "--epochs", "40", "--json")
    assert res.exit_code == 0, res.stderr
    return out, json.loads(res.stdout)


def test_train_json_and_progress(trained):
    out, doc = trained
    assert doc["ok"] and Path(doc["run_dir"]) == out
    assert set(doc["metrics"]) == {"train", "val", "test"}
    assert doc["metrics"]["test"]["accuracy"] > 0.8


def test_train_human_output_has_table(tmp_path):
    res = run("train", IRIS, "--out", tmp_path / "r", "--epochs", "2")
    assert res.exit_code == 0
    assert "final metrics" in res.stderr and "epoch   2" in res.stderr
    assert res.stdout == ""


def test_eval_confusion_matrix(trained):
    out, doc = trained
    res = run("eval", out, "--json")
    assert res.exit_code == 0, res.stderr
    ev = json.loads(res.stdout)
    assert ev["metrics"]["accuracy"] == pytest.approx(doc["metrics"]["test"]["accuracy"])
    assert ev["class_names"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, ev["confusion_matrix"])) == ev["examples"]
    res = run("eval", out, "--data", ROOT / "datasets" / "iris.csv", "--json")
    assert json.loads(res.stdout)["examples"] == 150


def test_predict_csv_and_onnx_agree(trained, tmp_path):
    out, _ = trained
    res = run("predict", out, "--input", ROOT / "datasets" / "iris.csv")
    assert res.exit_code == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert len(rows) == 151 and rows[1][0] == "setosa"
    onnx_file = tmp_path / "iris.onnx"
    res = run("export", out, "-o", onnx_file, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["opset"] == 17 and report["ir_version"] == 8
    served = run("predict", onnx_file, "--input", ROOT / "datasets" / "iris.csv")
    assert [r[0] for r in csv.reader(io.StringIO(served.stdout))] == [r[0] for r in rows]
    res = run("predict", out, "--input", ROOT / "datasets" / "iris.csv", "--output", tmp_path / "p.npy")
    assert res.exit_code == 0 and (tmp_path / "p.npy").exists()


def test_export_rejects_bad_opset(trained, tmp_path):
    out, _ = trained
    res = run("export", out, "-o", tmp_path / "x.onnx", "--opset", "12")
    assert res.exit_code == 1
    assert "13" in res.stderr and "Traceback" not in res.stderr


def test_user_errors_are_located_not_tracebacks(tmp_path):
    res = run("eval", tmp_path / "nowhere")
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    res = run("predict", ROOT / "specs" / "iris_mlp.toml", "--input", tmp_path / "missing.csv")
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(IRIS.read_text().replace('target = "species"', 'target = "specie"').replace("../datasets", str(ROOT / "datasets")))
    res = run("train", bad, "--out", tmp_path / "r")
    assert res.exit_code == 1 and "specie" in res.stderr and "did you mean" in res.stderr


def test_unwritable_output_is_a_user_error(trained, tmp_path):
    out, _ = trained
    res = run("predict", out, "--input", ROOT / "datasets" / "iris.csv", "--output", tmp_path / "no" / "dir" / "p.csv", "--json")
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and "No such file" in doc["errors"][0]["message"]


def test_export_default_file_is_named_after_the_spec(trained):
    out, _ = trained
    res = run("export", out, "--opset", "21")
    assert res.exit_code == 0, res.stderr
    assert (out / "iris-mlp.onnx").exists() and "ir_version 10" in res.stderr


def test_closed_output_pipe_ends_quietly(trained, tmp_path):
    """`netspec predict ... | head -1`: the process ends by SIGPIPE (a shell shows exit 141)."""
    import subprocess
    import sys

    out, _ = trained
    rows = (ROOT / "datasets" / "iris.csv").read_text().splitlines()
    big = tmp_path / "big.csv"
    big.write_text("\n".join([rows[0], *(rows[1:] * 30)]) + "\n")  # 4,500 rows: more than a pipe holds
    cmd = [sys.executable, "-m", "netspec_cli.main", "predict", str(out), "--input", str(big)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"prediction")
    proc.stdout.close()
    proc.wait(timeout=60)
    assert proc.returncode == -13  # killed by SIGPIPE
    assert b"Traceback" not in proc.stderr.read()


def test_usage_error_with_json_still_prints_one_document(trained):
    import subprocess
    import sys

    out, _ = trained
    res = subprocess.run([sys.executable, "-m", "netspec_cli.main", "eval", str(out), "--split", "nonsense", "--json"],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2
    assert json.loads(res.stdout)["errors"][0]["code"] == "usage"


def test_run_files_are_readable_by_others(trained):
    import os
    import stat

    out, _ = trained
    umask = os.umask(0)
    os.umask(umask)
    for f in ("model.safetensors", "spec.json", "metrics.csv"):
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o666 & ~umask, f
