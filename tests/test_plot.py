"""`netspec plot`: every kind renders a valid PNG of the expected size with non-constant content
from a small trained run; matplotlib is imported only by this command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inspect_helpers import CNN_LAYERS, random_model, write_spec
from netspec_cli.main import app
from typer.testing import CliRunner

import netspec
from netspec.inspect.filters import filter_images

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

# kind -> expected height in pixels (every picture is 800 wide). The test CNN: conv1 has 4
# filters (a 2x2 grid: 2 * 400 + 60), conv2 6 units (3 per row: 2 * 267 + 60).
HEIGHTS = {"curves": 360, "confusion": 700, "filters": 860, "features": 860, "maximize": 593, "gradients": 500}


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plot")
    # a learning rate that changes, so the curves get their second axis
    spec = write_spec(folder, CNN_LAYERS, name="plot-cnn", epochs=3,
                      train_extra='schedule = { type = "step", step_size = 1, gamma = 0.5 }\n')
    return netspec.train(spec, out=folder / "run").run_dir


def check_png(path: Path, width: int, height: int) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (width, height)
        pixels = np.asarray(img.convert("RGB"), dtype=np.int16)
    assert pixels.std() > 5, "the picture has content"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20, "more than a few flat colours"
    return pixels


@pytest.mark.parametrize("kind", list(HEIGHTS))
def test_each_kind_is_a_png_of_the_expected_size(cnn_run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = runner.invoke(app, ["plot", str(cnn_run), "--kind", kind, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"ok": True, "path": str(out), "width": 800, "height": HEIGHTS[kind], "kind": kind}
    check_png(out, 800, HEIGHTS[kind])


def test_default_kind_and_file_and_named_layers(cnn_run):
    result = runner.invoke(app, ["plot", str(cnn_run)])
    assert result.exit_code == 0, result.output
    check_png(cnn_run / "curves.png", 800, 360)
    for args in (["--kind", "features", "--layer", "pool1", "--example", "3", "--split", "val"],
                 ["--kind", "maximize", "--layer", "output.pre", "--units", "0,7"],
                 ["--kind", "features", "--layer", "output"]):  # fmt: skip
        result = runner.invoke(app, ["plot", str(cnn_run), *args, "-o", str(cnn_run / "x.png")])
        assert result.exit_code == 0, (args, result.output)


def test_bad_requests_are_located_errors(cnn_run):
    cases = {("--kind", "filters", "--layer", "pool1"): "no conv or dense layer named 'pool1'",
             ("--kind", "filters", "--layer", "output"): "dense layer whose input is not image-shaped",
             ("--kind", "features", "--layer", "nope"): "no layer named 'nope'",
             ("--kind", "maximize", "--layer", "conv2", "--units", "9"): "out of range: layer 'conv2' has 6 units",
             ("--kind", "features", "--example", "5000"): "--example 5000 is out of range"}  # fmt: skip
    for args, message in cases.items():
        result = runner.invoke(app, ["plot", str(cnn_run), *args, "-o", str(cnn_run / "bad.png")])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    assert runner.invoke(app, ["plot", str(cnn_run), "--kind", "pie"]).exit_code == 2
    missing = runner.invoke(app, ["plot", str(cnn_run / "nowhere")])
    assert missing.exit_code == 1 and "no such run folder" in missing.output


def test_a_missing_matplotlib_names_the_extra(cnn_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # import fails
    result = runner.invoke(app, ["plot", str(cnn_run), "-o", str(cnn_run / "none.png")])
    assert result.exit_code == 1
    assert "pip install 'netspec[plots]'" in result.output and "Traceback" not in result.output


def test_matplotlib_is_imported_only_by_plot():
    code = ("import sys, netspec, netspec_cli.main; from netspec.inspect import activations, gradnorms; "
            "assert 'matplotlib' not in sys.modules, 'imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_filters_are_unit_norm_images(tmp_path):
    # A dense first layer over the flat 64 digit pixels: each weight column as an 8x8 image.
    body = '[[model.layers]]\ntype = "flatten"\n[[model.layers]]\ntype = "dense"\nname = "hidden"\nunits = 5\n' \
           '[[model.layers]]\ntype = "dense"\nname = "output"\nunits = 10\nactivation = "softmax"\n'
    model = random_model(write_spec(tmp_path, body))
    name, tiles, labels = filter_images(model)
    assert name == "hidden" and len(tiles) == 5 and tiles[0].shape == (8, 8)
    w = model.params["hidden.weight"][:, 0].reshape(8, 8)
    v = w / np.linalg.norm(w)
    # one shared symmetric display range: tile = 0.5 + 0.5 * v / max |v| over all filters
    scale = max(np.abs(model.params["hidden.weight"] / np.linalg.norm(model.params["hidden.weight"], axis=0)).max(), 1e-12)
    np.testing.assert_allclose(tiles[0], 0.5 + 0.5 * v / scale, rtol=1e-5)
    # three input channels: one RGB tile per filter
    rgb = CNN_LAYERS.replace("filters = 4", "filters = 2", 1)
    spec = write_spec(tmp_path, rgb, name="rgb").read_text().replace("input_shape = [1, 8, 8]", "input_shape = [3, 8, 8]")
    (tmp_path / "rgb.toml").write_text(spec)
    name, tiles, labels = filter_images(random_model(tmp_path / "rgb.toml"))
    assert name == "conv1" and len(tiles) == 2 and tiles[0].shape == (3, 3, 3)
    assert all(0 <= t.min() and t.max() <= 1 for t in tiles)


def test_inputs_that_are_not_images_are_drawn_as_heatmaps(tmp_path):
    run = netspec.train(ROOT / "specs" / "iris_mlp.toml", out=tmp_path / "iris", epochs=2).run_dir
    result = runner.invoke(app, ["plot", str(run), "--kind", "maximize", "-o", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    check_png(tmp_path / "m.png", 800, 500)  # units x the 4 iris features
    filters = runner.invoke(app, ["plot", str(run), "--kind", "filters"])
    assert filters.exit_code == 1 and "not image-shaped (input shape (4,))" in filters.output
