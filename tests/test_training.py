"""Training behaviour a user relies on: determinism, resume after a crash, divergence handling,
warm start with frozen layers, early stopping, and the example specs' held-out quality."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.errors import CheckpointError, TrainingDiverged
from netspec.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def write_spec(tmp_path: Path, body: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(body.replace("DATASETS", str(ROOT / "datasets").replace("\\", "/")))
    return path


DIGITS = """
name = "digits-small"
seed = 3
[data]
path = "DATASETS/digits.csv"
target = "digit"
standardize = true
[model]
input_shape = [64]
[[model.layers]]
type = "dense"
name = "h"
units = 32
activation = "relu"
[[model.layers]]
type = "dropout"
rate = 0.1
[[model.layers]]
type = "gaussian_noise"
stddev = 0.05
[[model.layers]]
type = "dense"
name = "out"
units = 10
activation = "softmax"
[train]
epochs = EPOCHS
loss = "cross_entropy"
optimizer = { type = "sgd", learning_rate = 0.05, momentum = 0.9, nesterov = true }
schedule = { type = "step", step_size = 2, gamma = 0.5 }
early_stopping = { monitor = "val_accuracy", patience = 100 }
clip_norm = 5.0
l2 = 1e-4
"""


def weights(run: Path, file: str = "model.safetensors") -> dict:
    return load_checkpoint(run / file)[0]


def test_same_seed_gives_bit_identical_weights(tmp_path):
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "3"))
    a = netspec.train(spec, out=tmp_path / "a")
    b = netspec.train(spec, out=tmp_path / "b")
    wa, wb = weights(a.run_dir), weights(b.run_dir)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k
    c = netspec.train(spec, out=tmp_path / "c", seed=4)
    assert not np.array_equal(weights(c.run_dir)["h.weight"], wa["h.weight"])


def test_run_folder_contents(tmp_path):
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "2"))
    run = netspec.train(spec, out=tmp_path / "run").run_dir
    for f in ("spec.json", "metrics.csv", "last.safetensors", "last.json", "best.safetensors", "model.safetensors", "model.json", "result.json"):
        assert (run / f).exists(), f
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,lr,loss") and len(rows) == 3
    result = json.loads((run / "result.json").read_text())
    assert set(result["metrics"]) == {"train", "val", "test"}
    # the run folder alone is enough to evaluate (its spec.json points back at the data)
    model = netspec.load_run(run)
    assert model.evaluate(model.split("test"))["accuracy"] == pytest.approx(result["metrics"]["test"]["accuracy"])


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "6"))
    full = netspec.train(spec, out=tmp_path / "full").run_dir

    def crash_after_epoch_3(ev):
        if ev.kind == "epoch_end" and ev.epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        netspec.train(spec, out=tmp_path / "cut", callback=crash_after_epoch_3)
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    assert load_checkpoint(tmp_path / "cut" / "last.safetensors")[1]["epoch"] == 3
    resumed = netspec.train(spec, out=tmp_path / "cut", resume=True)
    assert len(resumed.history) == 6
    wf, wr = weights(full), weights(resumed.run_dir)
    for k in wf:
        assert np.array_equal(wf[k], wr[k]), k
    assert (full / "metrics.csv").read_text() != "" and len((resumed.run_dir / "metrics.csv").read_text().splitlines()) == 7


def test_kill_9_then_resume_matches_uninterrupted(tmp_path):
    """A real SIGKILL mid-training: the last checkpoint survives and --resume finishes the run
    with the same weights as a run never interrupted."""
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "40").replace("units = 32", "units = 256"))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "netspec_cli.main", "train", str(spec), "--out"]
    proc = subprocess.Popen([*cmd, str(tmp_path / "killed")], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    last = tmp_path / "killed" / "last.safetensors"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if last.exists() and load_checkpoint(last)[1]["epoch"] >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    epoch_at_kill = load_checkpoint(last)[1]["epoch"]
    assert 3 <= epoch_at_kill < 40
    subprocess.run([*cmd, str(tmp_path / "killed"), "--resume"], env=env, check=True, capture_output=True)
    subprocess.run([*cmd, str(tmp_path / "whole")], env=env, check=True, capture_output=True)
    wk, ww = weights(tmp_path / "killed"), weights(tmp_path / "whole")
    for k in ww:
        assert np.array_equal(wk[k], ww[k]), k


def test_resume_refuses_a_changed_spec(tmp_path):
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "2"))
    netspec.train(spec, out=tmp_path / "run")
    spec.write_text(spec.read_text().replace("units = 32", "units = 16"))
    with pytest.raises(CheckpointError, match="spec changed"):
        netspec.train(spec, out=tmp_path / "run", resume=True)


def test_divergence_names_epoch_and_batch(tmp_path):
    body = DIGITS.replace("EPOCHS", "5").replace("standardize = true", "standardize = false")
    body = body.replace("learning_rate = 0.05", "learning_rate = 1e30").replace("clip_norm = 5.0", "")
    spec = write_spec(tmp_path, body)
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, batch \d+") as exc:
        netspec.train(spec, out=tmp_path / "run")
    assert exc.value.exit_code == 3
    assert "NaN or infinite" in str(exc.value)


def test_divergence_exit_code_in_cli(tmp_path):
    from typer.testing import CliRunner

    from netspec_cli.main import app

    body = DIGITS.replace("EPOCHS", "3").replace("standardize = true", "standardize = false")
    spec = write_spec(tmp_path, body.replace("learning_rate = 0.05", "learning_rate = 1e30").replace("clip_norm = 5.0", ""))
    res = CliRunner().invoke(app, ["train", str(spec), "--out", str(tmp_path / "r")])
    assert res.exit_code == 3
    assert "diverged" in res.output and "Traceback" not in res.output


def test_warm_start_with_frozen_layer(tmp_path):
    base = write_spec(tmp_path, DIGITS.replace("EPOCHS", "2"), "base.toml")
    base_run = netspec.train(base, out=tmp_path / "base").run_dir
    tuned = DIGITS.replace("EPOCHS", "2").replace('name = "h"\n', 'name = "h"\ntrainable = false\n')
    tuned = tuned.replace('name = "out"\nunits = 10', 'name = "new_head"\nunits = 10')
    tuned = tuned.replace("[train]\n", f'[train]\ninit_from = "{(base_run / "model.safetensors").as_posix()}"\n')
    events = []
    res = netspec.train(write_spec(tmp_path, tuned, "tuned.toml"), out=tmp_path / "tuned", callback=events.append)
    report = next(e.data for e in events if e.kind == "init_from")
    assert sorted(report["loaded"]) == ["h.bias", "h.weight"]
    assert sorted(report["initialized"]) == ["new_head.bias", "new_head.weight"]
    assert sorted(report["unused"]) == ["out.bias", "out.weight"]
    frozen = weights(base_run)["h.weight"]
    assert np.array_equal(res.model.params["h.weight"], frozen)


def test_warm_start_reports_shape_mismatch(tmp_path):
    base_run = netspec.train(write_spec(tmp_path, DIGITS.replace("EPOCHS", "1"), "b.toml"), out=tmp_path / "b").run_dir
    wider = DIGITS.replace("EPOCHS", "1").replace("units = 32", "units = 48")
    wider = wider.replace("[train]\n", f'[train]\ninit_from = "{base_run.as_posix()}"\n')
    events = []
    netspec.train(write_spec(tmp_path, wider, "w.toml"), out=tmp_path / "w", callback=events.append)
    report = next(e.data for e in events if e.kind == "init_from")
    assert any(m.startswith("h.weight: checkpoint (64, 32) vs model (64, 48)") for m in report["mismatched"])
    # a layer loads whole or not at all: out.bias (10,) fits but out.weight does not, so neither loads
    assert "out.bias" in report["initialized"] and "out.bias" not in report["loaded"]


def test_early_stopping_restores_best_weights(tmp_path):
    body = DIGITS.replace("EPOCHS", "30").replace("patience = 100", "patience = 2")
    body = body.replace('monitor = "val_accuracy"', 'monitor = "val_loss"').replace("learning_rate = 0.05", "learning_rate = 0.5")
    res = netspec.train(write_spec(tmp_path, body), out=tmp_path / "r")
    assert res.stopped_early and len(res.history) < 30
    best = min(res.history, key=lambda r: r["val_loss"])
    assert res.best_epoch == best["epoch"]
    assert res.metrics["val"]["loss"] == pytest.approx(best["val_loss"], rel=1e-5)


@pytest.mark.parametrize(
    ("spec", "metric", "minimum"),
    [("digits_mlp.toml", "accuracy", 0.96), ("iris_mlp.toml", "accuracy", 0.93),
     ("breast_cancer.toml", "accuracy", 0.95), ("sine_regression.toml", "r2", 0.95)],
)  # fmt: skip
def test_example_specs_reach_held_out_quality(tmp_path, spec, metric, minimum):
    res = netspec.train(SPECS / spec, out=tmp_path / "run")
    assert res.metrics["test"][metric] >= minimum


def test_train_on_arrays_through_the_api(tmp_path):
    from netspec.data import Dataset, Splits
    from netspec.spec import positions, validate_data

    doc = {"name": "xor", "seed": 0, "model": {"input_shape": [2], "layers": [
        {"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "train": {"epochs": 300, "batch_size": 4, "loss": "binary_cross_entropy",
                  "optimizer": {"type": "adam", "learning_rate": 0.05}}}  # fmt: skip
    spec = validate_data(doc, positions.SourceMap("xor.toml"))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    splits = Splits(Dataset(x, y), None, None, ["0", "1"], None, "classification")
    res = netspec.train(spec, splits=splits, save=False)
    assert res.run_dir is None and res.metrics["train"]["accuracy"] == 1.0
    assert list(res.model.labels(res.model.predict(x))) == [0, 1, 1, 0]


def test_a_new_run_never_overwrites_an_old_one(tmp_path):
    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "1"))
    netspec.train(spec, out=tmp_path / "run")
    with pytest.raises(CheckpointError, match="already holds a run"):
        netspec.train(spec, out=tmp_path / "run")


def test_targets_that_do_not_fit_the_output_are_a_data_error(tmp_path):
    from netspec.errors import DataError

    body = DIGITS.replace("EPOCHS", "1").replace("input_shape = [64]", "input_shape = [1, 64]")
    body = body.replace("standardize = true", "standardize = true\nreshape = [1, 64]")
    body = body.replace('[[model.layers]]\ntype = "dense"\nname = "h"', '[[model.layers]]\ntype = "conv1d"\nfilters = 4\nkernel_size = 3\n[[model.layers]]\ntype = "dense"\nname = "h"')
    with pytest.raises(DataError, match="flatten or global pooling"):
        netspec.train(write_spec(tmp_path, body), out=tmp_path / "r")


def test_resuming_an_early_stopped_run_trains_no_further(tmp_path):
    body = DIGITS.replace("EPOCHS", "40").replace("patience = 100", "patience = 1")
    body = body.replace('monitor = "val_accuracy"', 'monitor = "val_loss", restore_best = false').replace("learning_rate = 0.05", "learning_rate = 0.5")
    spec = write_spec(tmp_path, body)
    first = netspec.train(spec, out=tmp_path / "r")
    assert first.stopped_early
    again = netspec.train(spec, out=tmp_path / "r", resume=True)
    assert len(again.history) == len(first.history)
    for k, v in first.model.params.items():
        assert np.array_equal(v, again.model.params[k]), k


def test_frozen_batch_norm_keeps_its_statistics(tmp_path):
    body = DIGITS.replace("EPOCHS", "2").replace('[[model.layers]]\ntype = "dropout"', '[[model.layers]]\ntype = "batch_norm"\nname = "bn"\n[[model.layers]]\ntype = "dropout"')
    base = netspec.train(write_spec(tmp_path, body, "base.toml"), out=tmp_path / "base")
    tuned = body.replace('name = "bn"', 'name = "bn"\ntrainable = false').replace("[train]\n", f'[train]\ninit_from = "{base.run_dir.as_posix()}"\n')
    res = netspec.train(write_spec(tmp_path, tuned, "tuned.toml"), out=tmp_path / "tuned")
    for name in ("bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var"):
        assert np.array_equal(res.model.params[name], base.model.params[name]), name


def test_resume_does_not_need_the_warm_start_source_again(tmp_path):
    base = netspec.train(write_spec(tmp_path, DIGITS.replace("EPOCHS", "1"), "b.toml"), out=tmp_path / "b")
    tuned = DIGITS.replace("EPOCHS", "3").replace("[train]\n", f'[train]\ninit_from = "{(tmp_path / "b").as_posix()}"\n')
    spec = write_spec(tmp_path, tuned, "t.toml")

    def stop_after_1(ev):
        if ev.kind == "epoch_end" and ev.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        netspec.train(spec, out=tmp_path / "t", callback=stop_after_1)
    (tmp_path / "b").rename(tmp_path / "moved")
    assert base.run_dir.exists() is False
    assert len(netspec.train(spec, out=tmp_path / "t", resume=True).history) == 3


def test_divergence_after_a_good_epoch_keeps_that_checkpoint(tmp_path):
    """A run that blows up mid-training leaves the last good checkpoint byte for byte intact."""
    from netspec.training.checkpoint import save_checkpoint

    spec = write_spec(tmp_path, DIGITS.replace("EPOCHS", "1").replace("clip_norm = 5.0", ""))
    run = netspec.train(spec, out=tmp_path / "r").run_dir
    arrays, meta = load_checkpoint(run / "last.safetensors")
    arrays["h.weight"] = np.full_like(arrays["h.weight"], 1e30)  # poison the weights
    save_checkpoint(run / "last.safetensors", arrays, meta)
    good = (run / "last.safetensors").read_bytes()
    with pytest.raises(TrainingDiverged, match="epoch 2") as exc:
        netspec.train(spec, out=run, resume=True, epochs=3)
    assert "checkpoint of epoch 1" in str(exc.value)
    assert (run / "last.safetensors").read_bytes() == good


def test_a_spec_named_like_another_runs_suffix_is_not_confused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write_spec(tmp_path, DIGITS.replace("EPOCHS", "1").replace('name = "digits-small"', 'name = "m"'), "a.toml")
    b = write_spec(tmp_path, DIGITS.replace("EPOCHS", "1").replace('name = "digits-small"', 'name = "m-2"'), "b.toml")
    netspec.train(a)
    netspec.train(b)
    assert netspec.load_run(a).run_dir.name == "m" and netspec.load_run(b).run_dir.name == "m-2"


IRIS_BODY = """
name = "iris-sub"
[data]
path = "SUB"
target = "species"
CLASSES
[model]
input_shape = [4]
[[model.layers]]
type = "dense"
units = 3
activation = "softmax"
[train]
epochs = 2
loss = "cross_entropy"
"""


def test_data_classes_pins_the_output_order(tmp_path):
    from netspec.errors import DataError

    rows = (ROOT / "datasets" / "iris.csv").read_text().splitlines()
    sub = tmp_path / "sub.csv"
    sub.write_text("\n".join([rows[0], *[r for r in rows[1:] if not r.endswith("versicolor")]]) + "\n")
    body = IRIS_BODY.replace("SUB", sub.as_posix())
    with pytest.raises(DataError, match="2 classes .* 3 output units.*data.classes"):
        netspec.train(write_spec(tmp_path, body.replace("CLASSES", "")), save=False)
    pinned = body.replace("CLASSES", 'classes = ["setosa", "versicolor", "virginica"]')
    res = netspec.train(write_spec(tmp_path, pinned, "p.toml"), save=False)
    assert res.model.class_names == ["setosa", "versicolor", "virginica"]
