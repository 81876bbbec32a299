"""gradients.csv: the global gradient norm (before clipping) and each layer's weight-gradient norm
per epoch; recording leaves the weights bit-identical; `netspec train` warns once about vanishing
or overflowing gradients."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from inspect_helpers import CNN_LAYERS, write_spec
from netspec_cli.main import app
from typer.testing import CliRunner

import netspec
from netspec.executor import ParamStore
from netspec.inspect.gradnorms import GradientRecorder
from netspec.training import loop

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_recording_gradients_does_not_change_the_weights(tmp_path):
    spec = write_spec(tmp_path, CNN_LAYERS)  # conv, batch norm, pooling, dropout
    a = netspec.train(spec, out=tmp_path / "a", epochs=2)
    b = netspec.train(spec, out=tmp_path / "b", epochs=2, record_gradients=False)
    assert a.model.params.keys() == b.model.params.keys()
    for name, v in a.model.params.items():
        assert np.array_equal(v, b.model.params[name]), name
    assert not (tmp_path / "b" / "gradients.csv").exists()
    rows = _rows(tmp_path / "a" / "gradients.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "global", "conv1", "conv2", "output"]


def test_norms_are_the_mean_over_steps_before_clipping(tmp_path, monkeypatch):
    """Recompute the norms from the gradient buffer at every step (after the penalty, before
    clipping) and compare with gradients.csv."""
    seen: list[np.ndarray] = []
    real_clip = loop.clip

    def spy(g, clip_value, clip_norm):
        seen.append(g.copy())
        return real_clip(g, clip_value, clip_norm)

    monkeypatch.setattr(loop, "clip", spy)
    spec = netspec.load(SPECS / "sunspots_lstm.toml")
    # a clip_norm below the gradients' norm, so the run really clips (its targets are scaled,
    # which keeps the norms under the spec's own clip_norm = 5)
    spec = spec.model_copy(update={"train": spec.train.model_copy(update={"clip_norm": 0.5})})
    result = netspec.train(spec, out=tmp_path / "run", epochs=1)
    store = result.model.store
    rec = GradientRecorder(result.model.graph, store)
    row = _rows(tmp_path / "run" / "gradients.csv")[0]
    assert list(row) == ["epoch", "global", "lstm", "output"]
    names = {"lstm": ["lstm.kernel", "lstm.recurrent"], "output": ["output.weight"]}
    offsets = {n: (store.grads[n].__array_interface__["data"][0] - store.grad.__array_interface__["data"][0])
               // store.grad.itemsize for n in store.grads}  # fmt: skip
    for layer, params in names.items():
        norms = [np.sqrt(sum(np.sum(g[offsets[p]: offsets[p] + store.grads[p].size].astype(np.float64) ** 2)
                             for p in params)) for g in seen]  # fmt: skip
        assert np.isclose(float(row[layer]), np.mean(norms), rtol=1e-4), layer
    glob = np.mean([np.linalg.norm(g.astype(np.float64)) for g in seen])
    assert np.isclose(float(row["global"]), glob, rtol=1e-4)
    assert max(np.linalg.norm(g) for g in seen) > 0.5, "the run clips, so the recorded norm is the unclipped one"
    assert rec.layers == ["lstm", "output"]


def test_resumed_run_keeps_the_gradient_history(tmp_path):
    spec = SPECS / "iris_mlp.toml"
    netspec.train(spec, out=tmp_path / "run", epochs=2)
    netspec.train(spec, out=tmp_path / "run", epochs=4, resume=True)
    assert [r["epoch"] for r in _rows(tmp_path / "run" / "gradients.csv")] == ["1", "2", "3", "4"]


def _tiny_deep_sigmoid(tmp_path: Path, init: str, lr: float) -> Path:
    layers = "".join(f'[[model.layers]]\ntype = "dense"\nunits = 16\nactivation = "sigmoid"\ninit = "{init}"\n'
                     for _ in range(9))  # fmt: skip
    path = tmp_path / "deep.toml"
    path.write_text(f'name = "deep"\n[data]\npath = "{(ROOT / "datasets" / "iris.csv").as_posix()}"\n'
                    f'target = "species"\n[model]\ninput_shape = [4]\n{layers}'
                    '[[model.layers]]\ntype = "dense"\nunits = 3\nactivation = "softmax"\n'
                    f'[train]\nepochs = 2\nloss = "cross_entropy"\noptimizer = {{ type = "sgd", learning_rate = {lr} }}\n')  # fmt: skip
    return path


def test_train_warns_once_about_vanishing_gradients(tmp_path):
    spec = _tiny_deep_sigmoid(tmp_path, "normal", 0.01)  # std 0.01 weights: the gradient dies
    result = CliRunner().invoke(app, ["train", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert result.output.count("warning: vanishing gradients") == 1, result.output
    assert "first layer's (dense_1) weight-gradient norm" in result.output
    fine = CliRunner().invoke(app, ["train", str(SPECS / "iris_mlp.toml"), "--out", str(tmp_path / "ok")])
    assert "warning" not in fine.output


def test_overflow_is_reported_once_as_it_happens():
    spec = netspec.load(SPECS / "iris_mlp.toml")
    compiled = netspec.compile(spec)
    store = ParamStore.create(compiled.graph, np.float32, None)
    rec = GradientRecorder(compiled.graph, store)
    store.grad[:] = 3e38  # squares overflow float32
    with np.errstate(over="ignore"):
        first, again = rec.record(), rec.record()
    assert first and "overflowed" in first and again is None
    assert rec.end_epoch(1) is None and rec.history[0]["global"] == float("inf")
