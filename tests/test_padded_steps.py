"""One definition of what padded steps hold (kernels/padding.py: zero, after standardization),
used by every stage: the same padded batch, with non-zero garbage at padded steps, goes through
training-mode loading, Model.predict, `netspec predict RUN` and the exported .onnx, and all
four give the same outputs. The model is the issue's: standardize + lengths_key + a branch
that reads the input's padded steps outside the recurrent layer (a global average pool)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import netspec
from netspec.export import run_onnx
from netspec.export.serve import export_run
from netspec_cli.main import app

pytest.importorskip("onnxruntime")

SPEC = """
name = "padded"
[data]
path = "seq.npz"
lengths_key = "lengths"
standardize = true
ordered_split = true
split = { train = 0.6, val = 0.2, test = 0.2 }
[model]
input_shape = ["time", 2]
[[model.layers]]
type = "lstm"
name = "rec"
units = 6
[[model.layers]]
type = "global_avg_pool"
name = "pool"
inputs = ["input"]
[[model.layers]]
type = "concat"
inputs = ["rec", "pool"]
[[model.layers]]
type = "dense"
units = 3
activation = "softmax"
[train]
epochs = 3
batch_size = 16
loss = "cross_entropy"
optimizer = { type = "adam", learning_rate = 0.01 }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("padded")
    rng = np.random.default_rng(0)
    n, t = 120, 9
    lengths = rng.integers(2, t + 1, n)
    x = rng.normal(3.0, 2.0, (n, t, 2))
    y = (x[:, :2, 0].mean(axis=1) > 3).astype(int) + (lengths > 5)
    x[np.arange(t)[None, :] >= lengths[:, None]] = rng.uniform(50, 90, (n, t, 2))[np.arange(t)[None, :] >= lengths[:, None]]
    np.savez(root / "seq.npz", x=x, y=y, lengths=lengths)
    np.savez(root / "test.npz", x=x[-24:], lengths=lengths[-24:])  # the test split (ordered)
    (root / "spec.toml").write_text(SPEC)
    result = netspec.train(root / "spec.toml", out=root / "run")
    return root, result.run_dir, x[-24:], lengths[-24:]


def test_every_stage_sees_the_same_padded_steps(run_dir):
    root, folder, x_raw, lengths = run_dir
    model = netspec.load_run(folder)
    test = model.split("test")  # training-mode loading: standardized, padded steps zeroed
    assert np.array_equal(test.lengths, lengths)
    pad = np.arange(x_raw.shape[1])[None, :] >= lengths[:, None]
    tx = np.asarray(test.x[0 : len(test.x)])  # a Rows view: read every row
    assert pad.any() and np.all(tx[pad] == 0)
    from_loading = model.predict(tx, test.lengths, raw=False)
    from_predict = model.predict(x_raw.astype(np.float32), lengths)  # raw, garbage at padded steps

    res = CliRunner().invoke(app, ["predict", str(folder), "--input", str(root / "test.npz"),
                                   "--output", str(root / "pred.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output
    with open(root / "pred.csv") as f:
        rows = list(csv.DictReader(f))
    from_cli = np.array([[float(r[f"p_{c}"]) for c in model.class_names] for r in rows])

    report = export_run(model, root / "padded.onnx")
    assert report["ok"], report["failures"]
    from_onnx = run_onnx(root / "padded.onnx", x_raw.astype(np.float32), lengths.astype(np.int32))

    np.testing.assert_allclose(from_predict, from_loading, atol=1e-6)
    np.testing.assert_allclose(from_cli, from_loading, atol=1e-6)
    np.testing.assert_allclose(from_onnx, from_loading, atol=1e-5, rtol=1e-4)
    # garbage at padded steps changes nothing, anywhere
    other = x_raw.copy()
    other[pad] = -1234.5
    np.testing.assert_allclose(model.predict(other.astype(np.float32), lengths), from_predict, atol=1e-6)
    np.testing.assert_allclose(run_onnx(root / "padded.onnx", other.astype(np.float32), lengths.astype(np.int32)),
                               from_onnx, atol=1e-6)  # fmt: skip


def test_the_parity_check_catches_an_export_that_reads_padded_steps(run_dir, monkeypatch):
    """Without the ONNX mask the export would read the garbage: the parity check must fail
    (its samples carry non-zero values at padded steps), and nothing is written."""
    root, folder, _, _ = run_dir
    import netspec.export.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "mask_padded_steps", lambda graph, ctx: [])
    report = export_run(netspec.load_run(folder), root / "broken.onnx")
    assert not report["ok"] and not (root / "broken.onnx").exists()
    assert json.dumps(report)  # a plain report, as the CLI prints it
