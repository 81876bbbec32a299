"""Stopping a run from outside: SIGTERM is a clean stop like Ctrl-C (exit 130), --json still
prints one document, the last epoch's checkpoint is kept and --resume completes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hardening_helpers import iris_spec_copy, run

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

EARLY_STOP = 'early_stopping = { monitor = "val_loss", patience = 15, restore_best = true }'


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_the_run_resumes(sig, tmp_path):
    spec = iris_spec_copy(tmp_path, **{EARLY_STOP: ""})
    out = tmp_path / "run"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from netspec_cli.main import main; main()",
           "train", str(spec), "--out", str(out), "--epochs", "100000", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "last.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    doc = json.loads(stdout.decode("utf-8"))  # exactly one document
    assert doc["ok"] is False and doc["errors"][0]["code"] == "interrupted"
    assert "Traceback" not in stderr.decode()
    assert not [n for n in os.listdir(out) if "netspec-tmp" in n]
    res = run("train", spec, "--out", out, "--resume", "--epochs", "1")
    # the checkpoint is intact: resuming is accepted (it has already passed epoch 1)
    assert res.exit_code == 0, res.stderr
    assert (out / "model.safetensors").exists()


def test_unwritable_output_with_json_is_one_document(tmp_path):
    from hardening_helpers import IRIS_CSV, train_iris

    folder = train_iris(tmp_path / "run")
    (tmp_path / "a-file").write_text("")
    for target in (tmp_path / "a-file" / "p.csv", tmp_path / "missing" / "p.npy"):
        res = run("predict", folder, "--input", IRIS_CSV, "--output", target, "--json")
        assert res.exit_code == 1
        doc = json.loads(res.stdout)
        assert doc["ok"] is False and doc["errors"][0]["message"].startswith(f"{target}: cannot write")
