"""Scaled regression targets and several targets, as a user sees them: metrics, predict, eval
and the exported ONNX model are in the data's units; each target is scored on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.data.prepare import prepare_splits
from netspec.export.serve import OnnxModel, export_run
from netspec.spec import validate_data
from netspec.spec.positions import SourceMap

ROOT = Path(__file__).resolve().parent.parent


def spec_for(tmp_path: Path, data: dict, units: int, loss: str = "mse", epochs: int = 40, layers=None) -> netspec.Spec:
    """A small MLP spec whose source file lies in tmp_path (so data.path is relative to it)."""
    out = {"mse": "identity", "binary_cross_entropy": "sigmoid"}[loss]
    doc = {
        "name": "t", "seed": 0, "data": data,
        "model": {"input_shape": [2], "layers": layers or [
            {"type": "dense", "units": 16, "activation": "tanh"},
            {"type": "dense", "units": units, "activation": out}]},
        "train": {"epochs": epochs, "loss": loss, "batch_size": 16,
                  "optimizer": {"type": "adam", "learning_rate": 0.01}},
    }  # fmt: skip
    return validate_data(doc, SourceMap(str(tmp_path / "t.toml")))


def two_targets_csv(tmp_path: Path, n: int = 300) -> Path:
    """a ~ 1000 + 200 * x0 (large scale), b ~ 0.5 * x1 (small scale)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2))
    a = 1000 + 200 * x[:, 0] + rng.normal(0, 5, n)
    b = 0.5 * x[:, 1] + rng.normal(0, 0.02, n)
    lines = ["x0,x1,a,b"] + [f"{r[0]:.5f},{r[1]:.5f},{u:.4f},{v:.5f}" for r, u, v in zip(x, a, b)]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_series_standardize_scales_targets_with_the_series_statistics():
    spec = netspec.load(ROOT / "specs" / "sunspots_lstm.toml")
    splits, note = prepare_splits(spec, ROOT / "specs")
    ts, st = splits.target_scaler, splits.standardizer
    assert note is None
    assert ts is not None and ts.mean[0] == pytest.approx(float(np.ravel(st.mean)[0]))
    assert ts.std[0] == pytest.approx(float(np.ravel(st.std)[0]))
    assert splits.train.y.mean() > 20  # targets stay in sunspot units in the Dataset


def test_scaled_series_model_predicts_exports_and_serves_in_data_units(tmp_path):
    spec = netspec.load(ROOT / "specs" / "nile_lstm.toml")
    result = netspec.train(spec, out=tmp_path / "run", epochs=3)
    model = netspec.load_run(result.run_dir)
    assert model.target_scaler is not None
    test = model.split("test")
    pred = model.predict(test.x, raw=False)
    assert 600 < float(pred.mean()) < 1300  # flow units, not standardized ones
    rmse = float(np.sqrt(np.mean((pred - test.y) ** 2)))
    assert result.metrics["test"]["rmse"] == pytest.approx(rmse, rel=1e-4)
    assert json.loads((tmp_path / "run" / "model.json").read_text())["target_scaler"]["mean"][0] > 800
    report = export_run(model, tmp_path / "m.onnx")
    assert report["ok"], report["failures"]
    served = OnnxModel(tmp_path / "m.onnx")
    ops = [n.op_type for n in served.proto.graph.node]
    assert ops[-2:] == ["Mul", "Add"]
    data_file = ROOT / "datasets" / "nile_like.csv"
    np.testing.assert_allclose(served.predict_file(data_file), model.predict(model.read(data_file).x, raw=False),
                               rtol=1e-4, atol=1e-3)  # fmt: skip


def test_standardize_target_per_column_and_metrics_per_target(tmp_path):
    two_targets_csv(tmp_path)
    spec = spec_for(tmp_path, {"path": "two.csv", "target": ["a", "b"], "standardize": True,
                               "standardize_target": True}, units=2)  # fmt: skip
    result = netspec.train(spec, save=False)
    ts = result.model.target_scaler
    assert ts.mean[0] == pytest.approx(1000, abs=40) and ts.std[0] == pytest.approx(200, rel=0.2)
    assert ts.std[1] == pytest.approx(0.5, rel=0.2)
    test = result.metrics["test"]
    assert {"rmse", "rmse/a", "rmse/b"} <= set(test)
    assert test["rmse/a"] < 25 and test["rmse/b"] < 0.1  # both columns learned at their own scale
    assert test["rmse"] == pytest.approx(np.sqrt((test["rmse/a"] ** 2 + test["rmse/b"] ** 2) / 2), rel=1e-4)
    report = export_run(result.model, tmp_path / "two.onnx")  # per-column Mul/Add, batch 1 and 37
    assert report["ok"], report["failures"]
    served = OnnxModel(tmp_path / "two.onnx").predict_file(tmp_path / "two.csv")
    assert 600 < float(served[:, 0].mean()) < 1400 and abs(float(served[:, 1].mean())) < 0.3
    from netspec_cli.predict import predict_table

    header, rows, _ = predict_table(tmp_path / "two.onnx", tmp_path / "two.csv")
    assert header == ["prediction_a", "prediction_b"] and 500 < list(rows)[0][0] < 1500


def test_without_target_scaling_training_notes_once_which_key_to_set(tmp_path):
    two_targets_csv(tmp_path)
    spec = spec_for(tmp_path, {"path": "two.csv", "target": ["a", "b"]}, units=2, epochs=1)
    events = []
    netspec.train(spec, save=False, callback=events.append)
    notes = [e.data["message"] for e in events if e.kind == "note"]
    assert len(notes) == 1 and "data.standardize_target = true" in notes[0]
    scaled = spec_for(tmp_path, {"path": "two.csv", "target": ["a", "b"], "standardize_target": True}, units=2, epochs=1)
    events.clear()
    netspec.train(scaled, save=False, callback=events.append)
    assert not [e for e in events if e.kind == "note"]


def test_the_cli_prints_the_note(tmp_path):
    from typer.testing import CliRunner

    from netspec_cli.main import app

    two_targets_csv(tmp_path)
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\n[data]\npath = "two.csv"\ntarget = ["a", "b"]\n[model]\ninput_shape = [2]\n'
                    '[[model.layers]]\ntype = "dense"\nunits = 2\n[train]\nepochs = 1\nloss = "mse"\n')  # fmt: skip
    res = CliRunner().invoke(app, ["train", str(spec), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert res.output.count("note:") == 1 and "data.standardize_target = true" in res.output


def test_multi_label_sigmoid_outputs(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 2))
    rows = ["x0,x1,sunny,windy"] + [f"{a:.4f},{b:.4f},{int(a > 0)},{int(b > 0.3)}" for a, b in x]
    (tmp_path / "ml.csv").write_text("\n".join(rows) + "\n")
    spec = spec_for(tmp_path, {"path": "ml.csv", "target": ["sunny", "windy"]}, units=2, loss="binary_cross_entropy")
    result = netspec.train(spec, out=tmp_path / "run")
    test = result.metrics["test"]
    assert test["accuracy"] > 0.9 and test["accuracy/sunny"] > 0.9 and test["accuracy/windy"] > 0.85
    assert result.model.class_names == ["sunny", "windy"]
    from netspec_cli.predict import predict_table

    header, rows, _ = predict_table(tmp_path / "run", tmp_path / "ml.csv")
    assert header == ["prediction", "p_sunny", "p_windy"]
    assert list(rows)[0][0] in ("", "sunny", "windy", "sunny;windy")


def test_multi_label_needs_binary_cross_entropy_and_zero_one_targets(tmp_path):
    from netspec.errors import DataError

    (tmp_path / "bad.csv").write_text("x0,x1,p,q\n0.1,0.2,1,0\n0.3,0.1,2,1\n")
    spec = spec_for(tmp_path, {"path": "bad.csv", "target": ["p", "q"]}, units=2, loss="binary_cross_entropy")
    with pytest.raises(DataError) as err:
        prepare_splits(spec, tmp_path)
    assert str(err.value).endswith('bad.csv:3: column "p": a multi-label target must be 0 or 1, got 2')


def test_check_notes_unscaled_targets_once(tmp_path):
    from typer.testing import CliRunner

    from netspec_cli.main import app

    two_targets_csv(tmp_path)
    body = ('name = "s"\n[data]\npath = "two.csv"\ntarget = ["a", "b"]\n{extra}[model]\ninput_shape = [2]\n'
            '[[model.layers]]\ntype = "dense"\nunits = 2\n[train]\nepochs = 1\nloss = "mse"\n')  # fmt: skip
    (tmp_path / "plain.toml").write_text(body.format(extra=""))
    (tmp_path / "scaled.toml").write_text(body.format(extra="standardize_target = true\n"))
    res = CliRunner().invoke(app, ["check", str(tmp_path / "plain.toml"), str(tmp_path / "scaled.toml")])
    assert res.exit_code == 0, res.output
    assert res.output.count("note:") == 1 and "plain.toml: the regression target has mean" in res.output
