"""End to end: specs/sunspots_lstm.toml trains (lstm kernels inside the executor and the
training loop) and forecasts the test years better than the naive "repeat the last value"
baseline computed here from the raw CSV with the same windows and the same ordered split."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

import netspec
from netspec.data.split import split_sizes

ROOT = Path(__file__).resolve().parent.parent
SPECS, DATASETS = ROOT / "specs", ROOT / "datasets"


def naive_test_rmse(spec) -> float:
    with open(DATASETS / "sunspots.csv", newline="") as f:
        values = np.array([float(row[spec.data.series]) for row in csv.DictReader(f)])
    window, horizon = spec.data.window, spec.data.horizon
    n = values.size - window - horizon + 1  # window i covers i .. i + window - 1
    n_train, n_val, _ = split_sizes(n, spec.data.split.val, spec.data.split.test)
    idx = np.arange(n_train + n_val, n)  # the ordered split: test windows come last
    last = values[idx + window - 1]
    target = values[idx + window - 1 + horizon]
    return float(np.sqrt(np.mean((last - target) ** 2)))


def test_sunspots_lstm_beats_naive_forecast(tmp_path):
    path = SPECS / "sunspots_lstm.toml"
    spec = netspec.load(path)
    assert spec.data.ordered_split and spec.model.layers[0].type == "lstm"
    result = netspec.train(path, out=tmp_path / "run")
    naive = naive_test_rmse(spec)
    test = result.metrics["test"]
    assert np.isfinite(test["rmse"])
    # measured: rmse 24.0 against the naive 30.2
    assert test["rmse"] < 0.9 * naive, f"lstm test rmse {test['rmse']:.2f} vs naive {naive:.2f}"
    assert (tmp_path / "run" / "model.safetensors").exists()
