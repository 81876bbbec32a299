"""Image folders as a user has them: PNG/JPEG/BMP files in one sub-folder per class, decoded to
model.input_shape, pixel scaling inside the exported model, predict on raw files, and every bad
file a located error naming it (the image part of the bad-data corpus)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import netspec
from netspec.data.images import decode
from netspec.data.prepare import prepare_splits, read_inputs
from netspec.errors import DataError
from netspec.export.serve import OnnxModel, export_run
from netspec.spec import validate_data
from netspec.spec.positions import SourceMap

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "datasets"))
from make_digit_images import write_digit_images  # noqa: E402


def image_spec(tmp_path: Path, channels=1, size=8, epochs=3, data=None, classes=10, loss="cross_entropy"):
    doc = {
        "name": "img", "seed": 0,
        "data": {"path": "imgs/", "standardize": True, **(data or {})},
        "model": {"input_shape": [channels, size, size], "layers": [
            {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"},
            {"type": "dense", "units": classes if loss == "cross_entropy" else 1,
             "activation": "softmax" if loss == "cross_entropy" else "sigmoid"}]},
        "train": {"epochs": epochs, "loss": loss, "optimizer": {"type": "adam", "learning_rate": 0.01}},
    }  # fmt: skip
    return validate_data(doc, SourceMap(str(tmp_path / "img.toml")))


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("digits")
    write_digit_images(root / "imgs", limit=600)
    return root


def test_folder_reads_as_class_indices_with_pixels_scaled_inside_the_standardizer(digits_dir):
    spec = image_spec(digits_dir, data={"standardize": False})
    splits, _ = prepare_splits(spec, digits_dir)
    assert splits.class_names == [str(d) for d in range(10)]
    assert splits.train.x.shape[1:] == (1, 8, 8)
    assert 0.0 <= splits.train.x.min() and splits.train.x.max() <= 1.0  # scaled to [0, 1]
    assert float(np.ravel(splits.standardizer.std)[0]) == 255.0
    std_spec = image_spec(digits_dir)
    st = prepare_splits(std_spec, digits_dir)[0]
    assert st.standardizer.mean.shape == (1, 1, 1)  # per channel
    assert abs(float(st.train.x.mean())) < 1e-3 and float(st.train.x.std()) == pytest.approx(1, rel=1e-3)


def test_train_export_and_predict_raw_images(digits_dir, tmp_path):
    spec = image_spec(digits_dir, epochs=4)
    result = netspec.train(spec, out=tmp_path / "run")
    assert result.metrics["test"]["accuracy"] > 0.8
    model = netspec.load_run(tmp_path / "run")
    report = export_run(model, tmp_path / "m.onnx")
    assert report["ok"], report["failures"]
    assert {c["batch"] for c in report["cases"]} == {1, 37}
    served = OnnxModel(tmp_path / "m.onnx")
    meta = {p.key: p.value for p in served.proto.metadata_props}
    assert meta["input_kind"] == "image" and meta["standardized"] == "true"
    folder = digits_dir / "imgs" / "3"
    ours = model.read(folder)
    assert ours.y is None and len(ours.names) == len(list(folder.iterdir()))
    np.testing.assert_allclose(served.predict(served.read(folder).x), model.predict(ours.x, raw=False), rtol=1e-4, atol=1e-5)
    from netspec_cli.predict import predict_table

    header, rows, _ = predict_table(tmp_path / "run", next(folder.iterdir()))
    assert header[:2] == ["file", "prediction"] and len(rows) == 1
    labelled = model.read(digits_dir / "imgs", require_targets=True)
    assert model.evaluate(labelled)["accuracy"] > 0.8


def test_rgb_and_jpeg_resized_bilinearly(tmp_path):
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for k in range(12):
            arr = (rng.random((20, 14, 3)) * 100 + 120 * c).astype(np.uint8)
            Image.fromarray(arr, "RGB").save(tmp_path / "imgs" / name / f"{k}.{'jpg' if k % 2 else 'bmp'}")
    spec = image_spec(tmp_path, channels=3, size=10, epochs=8, classes=2, loss="binary_cross_entropy")
    splits, _ = prepare_splits(spec, tmp_path)
    assert splits.train.x.shape[1:] == (3, 10, 10) and splits.standardizer.mean.shape == (3, 1, 1)
    assert splits.train.y.shape[1:] == (1,)
    img = Image.open(tmp_path / "imgs" / "cat" / "0.bmp").convert("RGB").resize((10, 10), Image.BILINEAR)
    np.testing.assert_array_equal(decode(tmp_path / "imgs" / "cat" / "0.bmp", (3, 10, 10), True),
                                  np.transpose(np.asarray(img, np.float32), (2, 0, 1)))  # fmt: skip
    assert netspec.train(spec, save=False).metrics["train"]["accuracy"] > 0.9


def test_augment_is_seeded_reproducible_and_changes_training_only(digits_dir):
    base = image_spec(digits_dir, epochs=2)
    aug = image_spec(digits_dir, epochs=2, data={"augment": {"shift": 1, "flip_horizontal": True}})
    a1, a2 = netspec.train(aug, save=False), netspec.train(aug, save=False)
    b = netspec.train(base, save=False)
    assert all(np.array_equal(a1.model.params[k], a2.model.params[k]) for k in a1.model.params)
    assert not all(np.array_equal(a1.model.params[k], b.model.params[k]) for k in b.model.params)
    test = a1.model.split("test")
    assert a1.model.evaluate(test) == a1.metrics["test"]  # evaluation sees the images unchanged


def test_augmented_run_resumes_bit_identically(digits_dir, tmp_path):
    spec = image_spec(digits_dir, data={"augment": {"shift": 2, "flip_vertical": True}})
    whole = netspec.train(spec, out=tmp_path / "a", epochs=2)
    netspec.train(spec, out=tmp_path / "b", epochs=1)
    resumed = netspec.train(spec, out=tmp_path / "b", epochs=2, resume=True)
    assert all(np.array_equal(whole.model.params[k], resumed.model.params[k]) for k in whole.model.params)


def test_augment_needs_an_image_folder(tmp_path):
    from netspec.errors import SpecError

    doc = {"name": "t", "data": {"path": "d.csv", "target": "y", "augment": {"shift": 1}},
           "model": {"input_shape": [2], "layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
           "train": {"epochs": 1, "loss": "cross_entropy"}}  # fmt: skip
    with pytest.raises(SpecError, match="`augment` applies to an image folder"):
        validate_data(doc, SourceMap(str(tmp_path / "t.toml")))


# -- the bad-data corpus for images ------------------------------------------------------------
def _folder(tmp_path: Path) -> Path:
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(tmp_path / "imgs" / name / "ok.png")
    return tmp_path / "imgs"


def _corrupt(p: Path):
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def _truncated(p: Path):
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:300])


def _sixteen_bit(p: Path):
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(p)


def _wrong_size(p: Path):
    Image.fromarray(np.zeros((9, 12), np.uint8), "L").save(p)


def _not_an_image(p: Path):
    p.write_text("notes")


BAD = [
    ("broken.png", _corrupt, "broken.png: not a readable image (cannot identify image file"),
    ("cut.jpg", _truncated, "cut.jpg: not a readable image ("),
    ("deep.png", _sixteen_bit, "deep.png: a 16-bit image (Pillow mode 'I;16'); netspec reads 8-bit images: "
                               "save it as 8-bit grayscale or RGB"),
    ("big.png", _wrong_size, "big.png: the image is 12x9 pixels (width x height), but model.input_shape needs "
                             "8x8; resize the file, or set data.resize = true (bilinear)"),
    ("notes.txt", _not_an_image, "notes.txt: not an image file (extension '.txt'); an image folder holds .png, "
                                 ".jpg, .jpeg, .bmp files (move other files out of it)"),
]  # fmt: skip


@pytest.mark.parametrize("name,make,message", BAD, ids=[b[0] for b in BAD])
def test_bad_image_is_a_located_error_naming_the_file(tmp_path, name, make, message):
    root = _folder(tmp_path)
    make(root / "b" / name)
    spec = image_spec(tmp_path, classes=2, data={"resize": False})
    with pytest.raises(DataError) as err:
        prepare_splits(spec, tmp_path)
    text = str(err.value)
    assert text.startswith(str(root / "b" / name)) and "imgs/b/" + message in text, text
    with pytest.raises(DataError):  # the same file given to predict
        read_inputs(root / "b" / name, spec, None, ["a", "b"])


@pytest.mark.parametrize("layout,message", [
    ({}, "imgs: folder not found"),
    ({"x.png": None}, "imgs: no class sub-folders: put the images of each class in a sub-folder named after the class"),
    ({"a/": None, "b/ok.png": None}, "imgs/a: the class folder holds no images"),
])  # fmt: skip
def test_bad_folder_layouts(tmp_path, layout, message):
    for rel in layout:
        path = tmp_path / "imgs" / rel
        if rel.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(path)
    with pytest.raises(DataError) as err:
        prepare_splits(image_spec(tmp_path, classes=2), tmp_path)
    assert str(err.value).endswith(message), str(err.value)


def test_decoding_reports_progress(digits_dir):
    seen = []
    prepare_splits(image_spec(digits_dir), digits_dir, progress=lambda done, total, what: seen.append((done, total)))
    assert seen[-1] == (600, 600) and len(seen) >= 10


def test_cli_trains_and_predicts_an_image_folder(digits_dir, tmp_path):
    from typer.testing import CliRunner

    from netspec_cli.main import app

    spec = digits_dir / "cli.toml"
    spec.write_text((ROOT / "specs" / "digits_images.toml").read_text().replace("../datasets/digit_images/", "imgs/"))
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(spec), "--epochs", "1", "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "run"), "--input", str(digits_dir / "imgs" / "7")])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("file,prediction,p_0") and len(lines) == 1 + len(list((digits_dir / "imgs" / "7").iterdir()))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    res = runner.invoke(app, ["predict", str(tmp_path / "run"), "--input", str(broken)])
    assert res.exit_code == 1 and "broken.png: not a readable image" in res.output
