"""Variable-length sequences end to end: padded steps change neither the outputs at real steps,
the loss, nor the trained weights; exported models take the lengths too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netspec

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
name = "seq-tagger"
seed = 1
[data]
path = "seq.npz"
target = "y"
lengths_key = "lengths"
split = { train = 0.8, val = 0.2, test = 0.0 }
[model]
input_shape = ["time", 2]
[[model.layers]]
type = "lstm"
units = 8
return_sequences = true
[[model.layers]]
type = "dense"
units = 3
activation = "softmax"
[train]
epochs = 3
batch_size = 8
loss = "cross_entropy"
optimizer = { type = "adam", learning_rate = 0.01 }
"""


def make_data(path, pad_x: float, pad_y: int):
    rng = np.random.default_rng(0)
    n, t = 48, 9
    lengths = rng.integers(2, t + 1, n)
    x = rng.standard_normal((n, t, 2)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.int64) + (x[..., 1] > 1).astype(np.int64)
    real = np.arange(t)[None, :] < lengths[:, None]
    x[~real] = pad_x
    y[~real] = pad_y
    np.savez(path, x=x, y=y, lengths=lengths)


def train_with(tmp_path, name, pad_x, pad_y):
    folder = tmp_path / name
    folder.mkdir()
    make_data(folder / "seq.npz", pad_x, pad_y)
    (folder / "s.toml").write_text(SPEC)
    return netspec.train(folder / "s.toml", out=folder / "run")


def test_padding_changes_nothing(tmp_path):
    a = train_with(tmp_path, "a", 0.0, 0)
    b = train_with(tmp_path, "b", 1e3, 2)
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    for k, v in a.model.params.items():
        assert np.array_equal(v, b.model.params[k]), k
    assert a.metrics["val"] == b.metrics["val"]


def test_export_takes_lengths_and_matches(tmp_path):
    from netspec.export.serve import export_run

    res = train_with(tmp_path, "c", 0.0, 0)
    model = res.model
    x = np.random.default_rng(1).standard_normal((4, 6, 2)).astype(np.float32)
    lengths = np.array([6, 3, 1, 4])
    out = model.predict(x, lengths)
    assert out.shape == (4, 6, 3)
    x_noisy = x.copy()
    x_noisy[1, 3:] = 50.0  # beyond sample 1's length: must not matter
    np.testing.assert_array_equal(model.predict(x_noisy, lengths)[1, :3], out[1, :3])
    report = export_run(model, tmp_path / "seq.onnx")
    assert report["ok"], report["failures"]


def test_predict_and_eval_count_real_steps_only(tmp_path):
    from netspec_cli.evaluate import evaluate_run
    from netspec_cli.predict import predict_table

    res = train_with(tmp_path, "d", 0.0, 0)
    data = np.load(tmp_path / "d" / "seq.npz")
    header, rows, _ = predict_table(res.run_dir, tmp_path / "d" / "seq.npz")
    assert header[:3] == ["example", "step", "prediction"]
    assert len(rows) == int(data["lengths"].sum())
    report = evaluate_run(res.run_dir, "val", None)
    val_steps = sum(map(sum, report["confusion_matrix"]))
    assert val_steps == int(res.model.split("val").lengths.sum())


def test_token_ids_outside_the_vocabulary_are_located(tmp_path):
    from netspec.errors import DataError

    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (30, 5))
    x[7, 2] = 20
    np.savez(tmp_path / "ids.npz", x=x, y=(x.sum(1) > 50).astype(np.int64))
    (tmp_path / "s.toml").write_text(
        'name = "ids"\n[data]\npath = "ids.npz"\ntarget = "y"\n[model]\ninput_shape = [5]\ninput_dtype = "int64"\n'
        '[[model.layers]]\ntype = "embedding"\nvocab_size = 20\ndim = 3\n[[model.layers]]\ntype = "flatten"\n'
        '[[model.layers]]\ntype = "dense"\nunits = 2\nactivation = "softmax"\n[train]\nepochs = 1\nloss = "cross_entropy"\n'
    )
    with pytest.raises(DataError, match=r"example 7 at \[2\]: token id 20 is outside the embedding's vocabulary 0..19"):
        netspec.train(tmp_path / "s.toml", out=tmp_path / "run")
