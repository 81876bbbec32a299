"""End to end: the example CNN (conv2d + max_pool2d on 1x8x8 digits) trains to the held-out
accuracy datasets/README.md promises for a small CNN (>= 0.97; 0.98 with the spec's seed)."""

from __future__ import annotations

import netspec


def test_digits_cnn_reaches_held_out_accuracy(tmp_path, root):
    res = netspec.train(root / "specs" / "digits_cnn.toml", out=tmp_path / "run")
    assert res.metrics["test"]["accuracy"] >= 0.97, res.metrics
    assert res.metrics["train"]["accuracy"] >= 0.99, res.metrics  # the kernels do learn
