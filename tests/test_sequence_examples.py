"""The sequence example specs, trained as written (each a few seconds), reach their held-out
quality: many-to-many with another output length (reverse and truncate), one-to-many (a wave
from a vector) and a bidirectional tagger over variable-length sequences. `netspec predict`
gives one row per real output step (the decoder's own target lengths)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import netspec
from netspec_cli.main import app

SPECS = Path(__file__).resolve().parent.parent / "specs"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq-examples")
    return {name: netspec.train(SPECS / f"{name}.toml", out=root / name)
            for name in ("reverse_truncate", "wave_from_vector", "bidirectional_tagger")}  # fmt: skip


def test_held_out_quality(trained):
    assert trained["reverse_truncate"].metrics["test"]["accuracy"] >= 0.95
    assert trained["bidirectional_tagger"].metrics["test"]["accuracy"] >= 0.95
    wave = np.load(SPECS.parent / "datasets" / "wave_from_vector.npz")["y"]
    assert trained["wave_from_vector"].metrics["test"]["rmse"] <= 0.1 * wave.std()


def test_decoder_predictions_one_row_per_real_target_step(trained, tmp_path):
    run = trained["reverse_truncate"].run_dir
    data = np.load(SPECS.parent / "datasets" / "reverse_truncate.npz")
    res = CliRunner().invoke(app, ["predict", str(run), "--input", str(SPECS.parent / "datasets" / "reverse_truncate.npz"),
                                   "--output", str(tmp_path / "p.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == int(data["target_lengths"].sum())
    right = [int(r["prediction"]) == data["y"][int(r["example"]), int(r["step"])] for r in rows]
    assert np.mean(right) >= 0.95


def test_the_tagger_needs_both_directions(trained, tmp_path):
    """The same tagger one-directional (twice the units) stays far below: each tag depends on
    the next value, which only the backward direction has read."""
    text = (SPECS / "bidirectional_tagger.toml").read_text()
    text = text.replace("bidirectional = true", "bidirectional = false").replace("units = 16", "units = 32")
    text = text.replace("../datasets/", (SPECS.parent / "datasets").as_posix() + "/")
    (tmp_path / "uni.toml").write_text(text)
    uni = netspec.train(tmp_path / "uni.toml", save=False).metrics["test"]["accuracy"]
    assert uni < 0.85 < trained["bidirectional_tagger"].metrics["test"]["accuracy"]
