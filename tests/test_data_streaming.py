"""Memory-mapped and in-memory data train to the same weights; a resumed run on memory-mapped
data continues the same batch order (issue 8, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.training.checkpoint import load_checkpoint

SPEC = """
name = "stream"
seed = 5
[data]
DATA
standardize = true
split = { train = 0.7, val = 0.15, test = 0.15 }
[model]
input_shape = [12]
[[model.layers]]
type = "dense"
units = 16
activation = "relu"
[[model.layers]]
type = "dense"
units = 3
activation = "softmax"
[train]
epochs = EPOCHS
batch_size = 16
loss = "cross_entropy"
metrics = ["accuracy"]
optimizer = { type = "adam", learning_rate = 0.01 }
"""


def arrays(n=300):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, 12)) * 4 + 2).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 4).astype(np.int64) + (x[:, 2] > 2)
    return x, y


def spec(tmp_path: Path, data: str, epochs: int = 3, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(SPEC.replace("DATA", data).replace("EPOCHS", str(epochs)))
    return path


def weights(run: Path) -> dict:
    return load_checkpoint(run / "model.safetensors")[0]


def test_in_memory_and_memory_mapped_runs_give_identical_weights(tmp_path):
    x, y = arrays()
    np.savez_compressed(tmp_path / "c.npz", x=x, y=y)  # compressed: read into memory once
    np.savez(tmp_path / "s.npz", x=x, y=y)  # stored: memory-mapped
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    runs = {}
    for name, data in {"memory": 'path = "c.npz"', "npz-mmap": 'path = "s.npz"',
                       "npy-mmap": 'path = "x.npy"\ntargets = "y.npy"'}.items():  # fmt: skip
        result = netspec.train(spec(tmp_path, data, name=f"{name}.toml"), out=tmp_path / name)
        runs[name] = (weights(result.run_dir), result.metrics)
    from netspec.data import load_splits
    from netspec.spec import load_spec

    for name in ("npy-mmap", "npz-mmap"):  # both really mapped, not silently read into memory
        mapped = load_splits(load_spec(tmp_path / f"{name}.toml"), tmp_path)
        assert isinstance(mapped.train.x.source, np.memmap), name
    base_w, base_m = runs["memory"]
    for name, (w, m) in runs.items():
        assert m == base_m, name
        for k in base_w:
            assert np.array_equal(base_w[k], w[k]), (name, k)


def test_resume_on_memory_mapped_data_continues_the_same_batch_order(tmp_path):
    x, y = arrays()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    path = spec(tmp_path, 'path = "x.npy"\ntargets = "y.npy"', epochs=4)
    whole = netspec.train(path, out=tmp_path / "whole").run_dir

    def stop_after_2(ev):
        if ev.kind == "epoch_end" and ev.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        netspec.train(path, out=tmp_path / "cut", callback=stop_after_2)
    resumed = netspec.train(path, out=tmp_path / "cut", resume=True)
    full = netspec.train(path, out=tmp_path / "again")
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]  # same batches
    ww, wr = weights(whole), weights(resumed.run_dir)
    for k in ww:
        assert np.array_equal(ww[k], wr[k]), k


def test_train_json_reports_load_time_and_peak_memory_and_load_progress(tmp_path):
    import json

    from typer.testing import CliRunner

    from netspec_cli.main import app

    x, y = arrays()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    path = spec(tmp_path, 'path = "x.npy"\ntargets = "y.npy"', epochs=1)
    events = []
    netspec.train(path, out=tmp_path / "lib", callback=events.append)
    loads = [e.data for e in events if e.kind == "load"]
    assert loads and loads[-1]["done"] == loads[-1]["total"] == 300 and loads[-1]["unit"] == "rows"
    res = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "cli"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["load_seconds"] >= 0 and doc["epoch_seconds"] > 0 and doc["eval_seconds"] > 0
    assert doc["peak_rss_mb"] > 10


def test_a_run_on_npy_data_evaluates_its_splits_from_the_run_folder(tmp_path):
    from netspec_cli.evaluate import evaluate_run

    x, y = arrays()
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "x.npy", x)
    np.save(tmp_path / "data" / "y.npy", y)
    result = netspec.train(spec(tmp_path, 'path = "data/x.npy"\ntargets = "data/y.npy"', epochs=1),
                           out=tmp_path / "runs" / "r")  # fmt: skip
    report = evaluate_run(result.run_dir, "test", None)  # spec.json's paths are rebased to the run
    assert report["examples"] == 45 and report["metrics"] == result.metrics["test"]
