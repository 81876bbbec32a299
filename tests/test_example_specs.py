"""Every example spec: compiles, trains briefly, exports to ONNX that passes the checker and strict
shape inference, matches the executor on onnxruntime at batch 1 and 37, and serves the same
predictions as the run folder on the spec's own data file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.kernels.registry import get_op

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "specs").iterdir() if p.suffix in (".toml", ".json"))


def runnable(spec) -> bool:
    graph = netspec.compile(spec).graph
    return all(get_op(n.op).forward is not None for n in graph.nodes)


def test_there_are_examples():
    assert len(EXAMPLES) >= 8


def with_data(path: Path, tmp_path: Path) -> Path:
    """The spec file to train: an image-folder spec is copied into tmp_path with its folder
    written there (the bundled digits as PNGs), so nothing is written into the repository."""
    spec = netspec.load(path)
    if spec.data is None or not spec.data.is_image_folder:
        return path
    sys.path.insert(0, str(ROOT / "datasets"))
    from make_digit_images import write_digit_images

    copy = tmp_path / "specs" / path.name
    copy.parent.mkdir()
    copy.write_text(path.read_text())
    write_digit_images(copy.parent / spec.data.path)
    return copy


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_trains_exports_and_serves(tmp_path, path):
    from netspec.export.serve import OnnxModel, export_run

    path = with_data(path, tmp_path)
    spec = netspec.load(path)
    assert runnable(spec), "every op of an example spec has a kernel"
    result = netspec.train(spec, out=tmp_path / "run", epochs=2)
    model = netspec.load_run(result.run_dir)
    for opset in (13, 17, 21):
        report = export_run(model, tmp_path / f"m{opset}.onnx", opset)
        assert report["ok"], report["failures"]
        assert report["check"]["ok"] and report["inference_only"]["ok"]
        assert {c["batch"] for c in report["cases"]} == {1, 37}
        if model.task == "classification":
            assert report["outputs"]["output"]["argmax_agrees"]

    # the serving path predicts what the run folder predicts, on the spec's own data
    data_file = (path.parent / spec.data.path).resolve()
    served = OnnxModel(tmp_path / "m17.onnx").predict_file(data_file)
    ds = model.read(data_file)
    ours = model.predict(ds.x, ds.lengths, raw=False)
    np.testing.assert_allclose(served, ours, rtol=1e-4, atol=1e-5)
    if model.task == "classification":
        assert np.array_equal(model.labels(served), model.labels(ours))
    meta = {p.key: p.value for p in OnnxModel(tmp_path / "m17.onnx").proto.metadata_props}
    assert meta["spec_name"] == spec.name
    assert json.loads(meta["class_names"]) == (model.class_names or [])
