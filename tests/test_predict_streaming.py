"""`netspec predict` reads, predicts and writes a chunk of examples at a time: the streamed CSV
and .npy equal the in-memory predictions, and an interrupted write leaves no file behind."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hardening_helpers import IRIS_CSV, run, train_iris

import netspec
import netspec_cli.predict as predict_cli


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    return train_iris(tmp_path_factory.mktemp("stream") / "run")


def test_streamed_outputs_equal_the_in_memory_ones(iris_run, tmp_path, monkeypatch):
    monkeypatch.setattr(predict_cli, "CHUNK", 7)  # 150 rows: 22 chunks, the last one short
    res = run("predict", iris_run, "--input", IRIS_CSV, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["rows"]) == 150
    for name in ("p.csv", "p.npy"):
        res = run("predict", iris_run, "--input", IRIS_CSV, "--output", tmp_path / name)
        assert res.exit_code == 0, res.stderr
        assert "wrote 150 predictions" in res.stderr
    with open(tmp_path / "p.csv", newline="") as f:
        streamed = list(csv.reader(f))
    assert streamed[0] == doc["columns"]
    assert [r[0] for r in streamed[1:]] == [r[0] for r in doc["rows"]]
    assert np.allclose([[float(v) for v in r[1:]] for r in streamed[1:]], [r[1:] for r in doc["rows"]])
    model = netspec.load_run(iris_run)
    data = model.read(IRIS_CSV)
    expected = model.predict(np.asarray(data.x), raw=False)
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected.astype(np.float32))
    res = run("predict", iris_run, "--input", IRIS_CSV)  # stdout, streamed too
    assert res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 151 and lines[0] == ",".join(doc["columns"])


def test_an_interrupted_stream_leaves_no_file(iris_run, tmp_path, monkeypatch):
    monkeypatch.setattr(predict_cli, "CHUNK", 10)
    calls = {"n": 0}
    real = predict_cli._rows

    def stop_at_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(predict_cli, "_rows", stop_at_third)
    res = run("predict", iris_run, "--input", IRIS_CSV, "--output", tmp_path / "p.csv")
    assert res.exit_code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the file nor a temp file
