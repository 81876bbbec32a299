"""Sweeps that run: SQLite with 2 worker processes, kill -9 and continue, reproducibility, a
pruning hook in the loop, and the bundled example beating its own spec."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner
from conftest import SPECS
from sweep_helpers import netspec, sqlite_trials, write_sweep

pytest.importorskip("optuna")

import netspec as ns  # noqa: E402
from netspec.sweep.runner import run_sweep  # noqa: E402
from netspec_cli.main import app  # noqa: E402
from netspec.training.events import StopTraining  # noqa: E402


def test_two_workers_share_sqlite_study_without_running_a_trial_twice(tmp_path):
    path = write_sweep(tmp_path, trials=6, epochs=4, pruner="median")
    res = netspec("sweep", path, "--workers", "2", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    trials = sqlite_trials(tmp_path / "runs" / "s" / "study.db")
    assert [t["number"] for t in trials] == list(range(6))  # all recorded, no extra
    assert {t["state"] for t in trials} <= {"COMPLETE", "PRUNED"}
    folders = sorted(p.name for p in (tmp_path / "runs" / "s").iterdir() if p.is_dir())
    assert folders == sorted(f"trial-{k}" for k in range(6))  # one run folder per trial
    for t in doc["trials"]:
        run = tmp_path / t["run_dir"]
        recorded = json.loads((run / "trial.json").read_text())
        assert recorded["trial"] == t["number"] and recorded["params"] == t["params"]
        spec = json.loads((run / "spec.json").read_text())
        assert spec["model"]["layers"][0]["units"] == t["params"]["model.layers[0].units"]
        assert spec["train"]["optimizer"]["learning_rate"] == t["params"]["train.optimizer.learning_rate"]
    assert doc["workers"] == 2 and doc["blas_threads"] == 1
    best = doc["best"]
    result = json.loads((tmp_path / best["run_dir"] / "result.json").read_text())
    assert best["value"] == result["metrics"]["val"]["loss"]
    assert best["value"] == min(t["value"] for t in doc["trials"] if t["state"] == "COMPLETE")
    assert f"best trial {best['number']}: val_loss" in res.stderr and best["run_dir"] in res.stderr
    exported = CliRunner().invoke(app, ["export", str(tmp_path / best["run_dir"])])  # a normal run folder
    assert exported.exit_code == 0 and "parity ok" in exported.output, exported.output


def test_grid_with_two_workers_covers_every_point_once(tmp_path, monkeypatch):
    path = write_sweep(tmp_path, trials=10, epochs=3, sampler="grid")
    path.write_text(path.read_text().replace("{ log_uniform = [1e-3, 1e-1] }", "{ choice = [0.01, 0.05] }"))
    monkeypatch.chdir(tmp_path)
    outcome = run_sweep(path, workers=2)
    ran = [t for t in outcome.trials if t.state == "COMPLETE"]
    points = sorted((t.params["train.optimizer.learning_rate"], t.params["model.layers[0].units"]) for t in ran)
    assert outcome.budget == 6 and points == [(lr, u) for lr in (0.01, 0.05) for u in (4, 8, 16)]
    # a worker that lost the race for the last queued point gave way without running
    assert all(t.note.startswith("not run") and not t.params for t in outcome.trials if t not in ran)


def test_kill_and_continue(tmp_path, monkeypatch):
    path = write_sweep(tmp_path, trials=2, epochs=40)
    cmd = [sys.executable, "-m", "netspec_cli.main", "sweep", str(path)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    second = tmp_path / "runs" / "s" / "trial-1" / "spec.json"
    t0 = time.monotonic()
    while not second.exists() and proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-trial
    proc.wait()
    killed = second.parent
    before = {p.name: p.stat().st_mtime_ns for p in killed.iterdir()}
    assert not (killed / "result.json").exists()

    monkeypatch.chdir(tmp_path)
    outcome = run_sweep(path)  # the same sweep again continues the study
    assert outcome.marked_failed == [1]
    assert {t.number: t.state for t in outcome.trials} == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE"}
    assert outcome.trials[1].note == "killed while running"
    assert {p.name: p.stat().st_mtime_ns for p in killed.iterdir()} == before  # kept, untouched


def test_fixed_seed_and_one_worker_reproduce_the_trials(tmp_path, monkeypatch):
    outcomes = []
    for k in range(2):
        folder = tmp_path / f"run{k}"
        path = write_sweep(folder, trials=3, epochs=4)
        monkeypatch.chdir(folder)
        outcomes.append(run_sweep(path, workers=1))
    a, b = ([(t.params, t.value) for t in o.trials] for o in outcomes)
    assert a == b and len(a) == 3
    assert outcomes[0].best.value == outcomes[1].best.value


def test_stop_training_hook_ends_after_the_epoch_and_finishes_the_run(tmp_path):
    write_sweep(tmp_path, epochs=10)

    def stop_at_3(ev):
        if ev.kind == "epoch_end" and ev.epoch == 3:
            raise StopTraining

    result = ns.train(tmp_path / "tiny.toml", out=tmp_path / "run", callback=stop_at_3)
    assert len(result.history) == 3
    assert json.loads((tmp_path / "run" / "result.json").read_text())["epochs_run"] == 3


def test_example_sweep_beats_its_own_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ns.train(SPECS / "iris_mlp.toml", save=False).metrics["val"]["loss"]
    outcome = run_sweep(SPECS / "sweeps" / "iris_mlp.toml", trials=4)
    assert outcome.metric == "val_loss" and outcome.best.value < base


def test_blas_threads_divide_the_cores_between_workers(monkeypatch):
    from netspec.sweep.runner import blas_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert [blas_threads(n) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a limit already set is kept
    assert blas_threads(1) == 1


def test_storage_errors_and_a_changed_space_are_user_errors(tmp_path, monkeypatch):
    from netspec.errors import NetspecError

    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, trials=1, epochs=2)
    with pytest.raises(NetspecError, match=r"cannot open the study storage nosuchdb://user:\*\*\*@host/db"):
        run_sweep(path, storage="nosuchdb://user:secret@host/db")  # the password is not shown
    assert run_sweep(path).best is not None
    path.write_text(path.read_text().replace("[4, 8, 16]", "[4, 8]"))
    with pytest.raises(NetspecError, match="made by a sweep with another space or objective"):
        run_sweep(path)
    assert len(run_sweep(path, study="narrower").trials) == 1
