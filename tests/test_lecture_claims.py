"""The lecture's claims, each reproduced by an example spec in specs/ (tiny runs, fixed seeds):
vanishing gradients in a deep sigmoid net, batch norm's speed-up, an LSTM's long memory where an
RNN fails, and a hand-set vertical-edge filter's response (netspec's conv is a cross-correlation,
as in the lecture's worked example)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import netspec
from netspec.executor import ParamStore
from netspec.training.warm_start import warm_start

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _gradients(run: Path) -> list[dict]:
    with (run / "gradients.csv").open() as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_deep_sigmoid_gradients_vanish_and_relu_ones_do_not(tmp_path):
    sig = _gradients(netspec.train(SPECS / "vanishing_sigmoid.toml", out=tmp_path / "sig").run_dir)
    relu = _gradients(netspec.train(SPECS / "vanishing_relu.toml", out=tmp_path / "relu").run_dir)
    for row in sig:  # first layer 4 orders of magnitude or more below the last (measured: ~1e-5)
        assert row["dense1"] < 1e-4 * row["output"], row
        layers = [row[f"dense{i}"] for i in range(1, 10)] + [row["output"]]
        assert all(a < b for a, b in zip(layers, layers[1:])), "the norm shrinks layer by layer going back"
    for row in relu:
        assert 0.1 < row["dense1"] / row["output"] < 10, row


def _epochs_to(history: list[dict], target: float) -> float:
    return next((h["epoch"] for h in history if h["val_loss"] <= target), float("inf"))


def test_batch_norm_reaches_the_target_loss_in_fewer_epochs(tmp_path):
    bn = netspec.train(SPECS / "deep_batchnorm.toml", save=False).history
    plain = netspec.train(SPECS / "deep_plain.toml", save=False).history
    fast, slow = _epochs_to(bn, 0.9), _epochs_to(plain, 0.9)
    assert fast <= 6, [round(h["val_loss"], 3) for h in bn]
    assert slow >= 2 * fast, ([round(h["val_loss"], 3) for h in bn], [round(h["val_loss"], 3) for h in plain])


RECALL_SEEDS = range(7)


def recall_accuracies(name: str) -> list[float]:
    """Test accuracy of specs/{name}.toml for each of RECALL_SEEDS (about 1-2 s a run)."""
    return [netspec.train(SPECS / f"{name}.toml", save=False, seed=s).metrics["test"]["accuracy"] for s in RECALL_SEEDS]


def test_lstm_recalls_a_token_49_steps_back_and_rnn_does_not():
    # A claim about reliability, so over seeds: one seed either way flips with any change of
    # rounding (another CPU's BLAS kernels, a reordered sum). Measured, seeds 0-6: LSTM
    # [0.98, 1, 1, 0.70, 0.94, 1, 1] (seed 6 gave 0.25 before the lstm GEMMs were regrouped),
    # RNN [0.82, 0.93, 0.46, 0.37, 0.52, 0.29, 0.43].
    lstm, rnn = recall_accuracies("recall_lstm"), recall_accuracies("recall_rnn")
    assert np.median(lstm) >= 0.95, lstm
    assert np.median(rnn) <= 0.6, rnn  # chance is 0.25
    assert sum(a >= 0.95 for a in lstm) >= 4 and sum(a >= 0.95 for a in rnn) <= 2, (lstm, rnn)


def half_bright_image() -> np.ndarray:
    """The lecture's 6x6 image: left half 10, right half 0 (batch, channel, height, width)."""
    img = np.zeros((1, 1, 6, 6), dtype=np.float32)
    img[..., :3] = 10.0
    return img


def test_vertical_edge_filter_matches_the_lecture(tmp_path):
    filt = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float32)
    weights = tmp_path / "edge.safetensors"
    save_file({"edge.weight": filt.reshape(1, 1, 3, 3)}, str(weights))
    text = (SPECS / "edge_filter.toml").read_text()
    text = text.replace('"../datasets/vertical_edge.safetensors"', f'"{weights.as_posix()}"')
    text = text.replace('"../datasets/digits.csv"', f'"{(ROOT / "datasets" / "digits.csv").as_posix()}"')
    spec_path = tmp_path / "edge_filter.toml"
    spec_path.write_text(text)

    result = netspec.train(spec_path, out=tmp_path / "run", epochs=2)
    model = netspec.load_run(result.run_dir)
    np.testing.assert_array_equal(model.params["edge.weight"][0, 0], filt)  # frozen: still the lecture's
    edge = model.activations(half_bright_image(), layers=["edge"])["edge"][0, 0]
    expected = np.array([[0, 30, 30, 0]] * 4, dtype=np.float32)
    np.testing.assert_array_equal(edge, expected)
    # The same response from the file the example spec ships (written by datasets/make_vertical_edge.py).
    spec = netspec.load(SPECS / "edge_filter.toml")
    compiled = netspec.compile(spec)
    store = ParamStore.create(compiled.graph, np.float32, np.random.default_rng(0))
    warm_start(store, ROOT / "datasets" / "vertical_edge.safetensors")
    shipped = netspec.Model(spec, compiled, store)
    np.testing.assert_array_equal(shipped.activations(half_bright_image(), ["edge"])["edge"][0, 0], expected)


def test_convolution_is_cross_correlation_not_the_flipped_kernel():
    """A kernel that is not symmetric shows the convention: output[i, j] = sum x[i+a, j+b] k[a, b]."""
    spec = netspec.load(SPECS / "edge_filter.toml")
    compiled = netspec.compile(spec)
    store = ParamStore.create(compiled.graph, np.float64, np.random.default_rng(0))
    k = np.arange(9, dtype=np.float64).reshape(3, 3)
    store.values["edge.weight"][0, 0] = k
    x = np.random.default_rng(1).normal(size=(1, 1, 5, 5))
    got = netspec.Model(spec, compiled, store).activations(x, ["edge"])["edge"][0, 0]
    corr = np.array([[np.sum(x[0, 0, i : i + 3, j : j + 3] * k) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(got, corr)
    flipped = np.array([[np.sum(x[0, 0, i : i + 3, j : j + 3] * k[::-1, ::-1]) for j in range(3)] for i in range(3)])
    assert not np.allclose(got, flipped)
