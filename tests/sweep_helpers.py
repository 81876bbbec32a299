"""Tiny specs and sweep files for the sweep tests (iris, a few epochs: a trial takes well under
a second of training; most of a sweep test's time is worker start-up and storage writes)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import DATASETS

SPEC = """name = "tiny-iris"
seed = 0
[data]
path = "{data}"
target = "species"
standardize = true
split = {{ train = 0.6, val = 0.2, test = 0.2 }}
[model]
input_shape = [4]
[[model.layers]]
type = "dense"
units = 8
activation = "relu"
[[model.layers]]
type = "dense"
units = 3
activation = "softmax"
[train]
epochs = {epochs}
batch_size = 16
loss = "cross_entropy"
optimizer = {{ type = "adam", learning_rate = 0.01 }}
"""

SWEEP = """name = "{name}"
spec = "tiny.toml"
trials = {trials}
sampler = "{sampler}"
pruner = "{pruner}"
seed = 3
[objective]
metric = "val_loss"
[space]
"train.optimizer.learning_rate" = {{ log_uniform = [1e-3, 1e-1] }}
"model.layers[0].units" = {{ choice = [4, 8, 16] }}
"""


def write_sweep(folder: Path, *, name="s", trials=4, epochs=5, sampler="tpe", pruner="none") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.toml").write_text(SPEC.format(data=(DATASETS / "iris.csv").as_posix(), epochs=epochs))
    path = folder / "sweep.toml"
    path.write_text(SWEEP.format(name=name, trials=trials, sampler=sampler, pruner=pruner))
    return path


def netspec(*args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspec_cli.main", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=240, **kw)  # fmt: skip


def sqlite_trials(db: Path) -> list[dict]:
    """The trials as the storage holds them, read with sqlite3 alone (no Optuna in the test)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select trial_id, number, state from trials order by number").fetchall()
        attrs = con.execute("select trial_id, key, value_json from trial_user_attributes").fetchall()
    finally:
        con.close()
    by_id = {tid: {"number": n, "state": s, "attrs": {}} for tid, n, s in rows}
    for tid, key, value in attrs:
        by_id[tid]["attrs"][key] = json.loads(value)
    return list(by_id.values())
