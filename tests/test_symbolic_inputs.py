"""Models over a symbolic length: they train on one length, serve another, export with probes
long enough for every window, and refuse inputs too short for their windows with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import netspec
from netspec.compiler.dims import min_sizes
from netspec.errors import DataError

SPEC = """
name = "conv-len"
[data]
path = "c.npz"
target = "y"
[model]
input_shape = [3, "length"]
[[model.layers]]
type = "conv1d"
filters = 4
kernel_size = 5
padding = "same"
[[model.layers]]
type = "max_pool1d"
pool_size = 2
[[model.layers]]
type = "conv1d"
filters = 4
kernel_size = 3
dilation = 2
[[model.layers]]
type = "global_max_pool"
[[model.layers]]
type = "dense"
units = 2
activation = "softmax"
[train]
epochs = 2
loss = "cross_entropy"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("len")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 3, 30)).astype(np.float32)
    np.savez(d / "c.npz", x=x, y=(x[:, 0].mean(1) > 0).astype(np.int64))
    (d / "c.toml").write_text(SPEC)
    return netspec.train(d / "c.toml", out=d / "run"), d


def test_min_sizes_from_shape_rules(trained):
    res, _ = trained
    # pool halves the length, then a dilated 3-wide window spans 5: length // 2 >= 5
    assert min_sizes(res.model.graph) == {"length": 10}


def test_other_lengths_predict_and_short_ones_are_refused(trained):
    res, _ = trained
    x = np.random.default_rng(1).standard_normal((4, 3, 47)).astype(np.float32)
    assert res.model.predict(x).shape == (4, 2)
    with pytest.raises(DataError, match="length 8 are too short.*length >= 10"):
        res.model.predict(x[:, :, :8])


def test_export_probes_lengths_that_fit(trained, tmp_path):
    from netspec.export.serve import export_run

    res, _ = trained
    model = netspec.load_run(res.run_dir)
    report = export_run(model, tmp_path / "c.onnx")
    assert report["ok"], report["failures"]
    assert len({tuple(c["input_shape"]) for c in report["cases"]}) == 4  # 2 lengths x 2 batch sizes
