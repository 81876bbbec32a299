"""Receptive field and jump of conv/pool layers (netspec summary), and lstm.forget_bias."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from netspec_cli.main import app
from typer.testing import CliRunner

import netspec
from netspec.executor import ParamStore
from netspec.inspect.receptive import layer_fields
from netspec.spec.load import parse_text, validate_data

ROOT = Path(__file__).resolve().parent.parent


def _graph(layers: str, shape: str = "[1, 32, 32]"):
    text = f'name = "rf"\n[model]\ninput_shape = {shape}\n{layers}\n[train]\nepochs = 1\nloss = "mse"\n'
    return netspec.compile(validate_data(*parse_text(text, "rf.toml", "toml"))).graph


def test_digits_cnn_fields_in_summary():
    result = CliRunner().invoke(app, ["summary", "--json", str(ROOT / "specs" / "digits_cnn.toml")])
    layers = {ly["name"]: ly for ly in json.loads(result.stdout)["layers"]}
    # conv 3x3: 3; pool 2/2: 3 + 1*1 = 4, jump 2; conv 3x3: 4 + 2*2 = 8; pool 2/2: 8 + 1*2 = 10, jump 4
    assert [(layers[n]["receptive_field"], layers[n]["jump"]) for n in ("conv1", "pool1", "conv2", "pool2")] == [
        ([3, 3], [1, 1]), ([4, 4], [2, 2]), ([8, 8], [2, 2]), ([10, 10], [4, 4])]  # fmt: skip
    assert "receptive_field" not in layers["hidden"]
    table = CliRunner().invoke(app, ["summary", str(ROOT / "specs" / "digits_cnn.toml")]).stdout
    assert "RF" in table and "10x10" in table and "4x4" in table


def test_strides_dilation_and_one_dimensional_convs():
    conv = '[[model.layers]]\ntype = "conv{d}d"\nname = "{n}"\nfilters = 2\nkernel_size = {k}\nstrides = {s}\ndilation = {dil}\n'
    layers = (conv.format(d=2, n="a", k=5, s=2, dil=1) + conv.format(d=2, n="b", k=3, s=1, dil=2)
              + '[[model.layers]]\ntype = "avg_pool2d"\nname = "p"\npool_size = 3\nstrides = 1\n'
              + '[[model.layers]]\ntype = "conv2d"\nname = "c"\nfilters = 2\nkernel_size = [1, 3]\n')  # fmt: skip
    fields = layer_fields(_graph(layers))
    # a: 5, jump 2; b: dilated 3 -> spans 5: 5 + 4*2 = 13; p: 13 + 2*2 = 17; c: [17, 17 + 2*2 = 21]
    assert fields["a"] == {"receptive_field": [5, 5], "jump": [2, 2]}
    assert fields["b"] == {"receptive_field": [13, 13], "jump": [2, 2]}
    assert fields["p"] == {"receptive_field": [17, 17], "jump": [2, 2]}
    assert fields["c"] == {"receptive_field": [17, 21], "jump": [2, 2]}
    one = layer_fields(_graph(conv.format(d=1, n="x", k=4, s=3, dil=1) + conv.format(d=1, n="y", k=2, s=1, dil=1), "[2, 40]"))
    assert one == {"x": {"receptive_field": [4], "jump": [3]}, "y": {"receptive_field": [7], "jump": [3]}}


def test_lstm_forget_bias_sets_the_forget_gate_block(tmp_path):
    layers = '[[model.layers]]\ntype = "lstm"\nname = "m"\nunits = 3\nforget_bias = 6.0\n'
    graph = _graph(layers, '["time", 2]')
    store = ParamStore.create(graph, np.float64, np.random.default_rng(0))
    np.testing.assert_array_equal(store.values["m.bias_ih"], [0, 0, 0, 6, 6, 6, 0, 0, 0, 0, 0, 0])
    default = ParamStore.create(_graph(layers.replace("forget_bias = 6.0\n", ""), '["time", 2]'), np.float64,
                                np.random.default_rng(0))  # fmt: skip
    np.testing.assert_array_equal(default.values["m.bias_ih"][3:6], [1, 1, 1])
    bad = CliRunner().invoke(app, ["check", str(_write(tmp_path, layers.replace("6.0", "-1.0")))])
    assert bad.exit_code == 1 and "forget_bias" in bad.output


def _write(folder: Path, layers: str) -> Path:
    path = folder / "bad.toml"
    path.write_text(f'name = "rf"\n[model]\ninput_shape = ["time", 2]\n{layers}\n[train]\nepochs = 1\nloss = "mse"\n')
    return path
