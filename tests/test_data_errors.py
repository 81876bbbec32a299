"""Bad data -> one located DataError: file, 1-based line, column, the value, what was expected.

CSV cases live in tests/data_corpus/ (listed in cases.toml); NPZ/NPY cases are generated in
tmp_path by the tests below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
from data_helpers import data_spec

from netspec.data import load_inputs, load_splits
from netspec.errors import DataError

CORPUS = Path(__file__).resolve().parent / "data_corpus"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]
def make_spec(
    path: str,
    data: dict | None = None,
    *,
    input_shape=(3,),
    loss="cross_entropy",
    units=3,
    input_dtype="float32",
    seed=0,
):
    table = {"path": path, **(data if data is not None else {"target": "y"})}
    return data_spec(table, input_shape, loss, units, seed, input_dtype)


def check_message(message: str, expected: str) -> None:
    """The message is `<path to the file>` + expected, the path ending in the file name."""
    assert message.endswith(expected), f"\n got: {message}\nwant: ...{expected}"
    prefix = message[: len(message) - len(expected)]
    assert prefix == "" or prefix.endswith(("/", os.sep)), message


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    files = {c["file"] for c in CASES}
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "cases.toml"}
    assert on_disk <= files, f"corpus files without a case: {on_disk - files}"


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_case(case):
    loss = case.get("loss", "cross_entropy")
    spec = make_spec(
        case["file"],
        case.get("data"),
        input_shape=case.get("input_shape", [3]),
        loss=loss,
        units=case.get("n_outputs", 1 if loss == "binary_cross_entropy" else 3),
        input_dtype=case.get("input_dtype", "float32"),
    )
    mode = case.get("mode", "train")
    with pytest.raises(DataError) as info:
        if mode == "train":
            load_splits(spec, CORPUS, n_outputs=case.get("n_outputs"))
        else:
            load_inputs(
                CORPUS / case["file"],
                spec,
                None,
                case.get("class_names"),
                require_targets=mode == "eval",
                feature_names=case.get("feature_names"),
            )
    check_message(str(info.value), case["error"])


# --- NPZ / NPY ------------------------------------------------------------------------------


def npz(tmp_path: Path, name: str = "d.npz", **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def npz_error(path: Path, data: dict | None = None, **kw) -> str:
    spec = make_spec(path.name, data if data is not None else {"path": path.name}, **kw)
    with pytest.raises(DataError) as info:
        load_splits(spec, path.parent, n_outputs=kw.get("units"))
    return str(info.value)


X = np.arange(30, dtype=np.float64).reshape(10, 3)
Y = np.arange(10) % 3


def test_npz_missing_file(tmp_path):
    check_message(npz_error(tmp_path / "nope.npz"), "nope.npz: file not found")


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "d.npz").write_text("hello")
    msg = npz_error(tmp_path / "d.npz")
    assert msg.startswith(str(tmp_path / "d.npz")) or "d.npz: not a readable .npz file" in msg
    assert "d.npz: not a readable .npz file" in msg


def test_npz_missing_x_key_lists_keys(tmp_path):
    path = npz(tmp_path, inputs=X, y=Y)
    check_message(npz_error(path), 'd.npz: no array "x" (data.x_key); the file has: inputs, y')


def test_npz_missing_target_key_suggests(tmp_path):
    path = npz(tmp_path, x=X, label=Y)
    msg = npz_error(path, {"target": "labels"})
    check_message(
        msg, 'd.npz: no array "labels" (data.target); the file has: x, label; did you mean `label`?'
    )


def test_npz_object_array_refused(tmp_path):
    path = npz(tmp_path, x=np.array([[1, 2, 3]] * 10, dtype=object), y=Y)
    msg = npz_error(path)
    check_message(
        msg,
        'd.npz: key "x": object arrays need pickle, which netspec never loads; '
        "save numeric or string arrays",
    )


def test_npz_x_y_length_mismatch(tmp_path):
    path = npz(tmp_path, x=X, y=Y[:9])
    check_message(
        npz_error(path), 'd.npz: "x" has 10 examples but "y" has 9; they must have the same length'
    )


def test_npz_nan_in_x(tmp_path):
    x = X.copy()
    x[4, 2] = np.nan
    check_message(
        npz_error(npz(tmp_path, x=x, y=Y)),
        'd.npz: key "x": example 4 at [2]: expected a finite number, got nan',
    )


def test_npz_string_inputs(tmp_path):
    path = npz(tmp_path, x=np.array([["a", "b", "c"]] * 10), y=Y)
    check_message(npz_error(path), 'd.npz: key "x": expected numbers, got an array of <U1 values')


def test_npz_fractional_labels(tmp_path):
    y = Y.astype(float)
    y[6] = 1.5
    msg = npz_error(npz(tmp_path, x=X, y=y))
    check_message(
        msg,
        'd.npz: key "y": example 6: classification labels must be whole numbers or strings, got 1.5',
    )


def test_npz_label_out_of_range(tmp_path):
    msg = npz_error(npz(tmp_path, x=X, y=Y), units=2)
    check_message(
        msg,
        'd.npz: key "y": example 2: label "2" is class 2 of 3 (0, 1, 2), out of range for the '
        "model's 2 output units (class indices 0..1)",
    )


SEQ = np.ones((4, 5, 2))
SEQ_SPEC = {"input_shape": ["time", 2]}


@pytest.mark.parametrize("bad, value", [(0, 0), (7, 7)])
def test_npz_lengths_out_of_range(tmp_path, bad, value):
    lengths = np.array([5, 3, bad, 1])
    path = npz(tmp_path, x=SEQ, y=np.arange(4) % 3, lengths=lengths)
    msg = npz_error(path, {"lengths_key": "lengths"}, **SEQ_SPEC)
    check_message(
        msg,
        f'd.npz: key "lengths": example 2: length {value} is out of range 1..5 '
        '(the time axis of "x" has 5 steps)',
    )


def test_npz_lengths_wrong_count(tmp_path):
    path = npz(tmp_path, x=SEQ, y=np.arange(4) % 3, lengths=np.array([5, 3, 2]))
    msg = npz_error(path, {"lengths_key": "lengths"}, **SEQ_SPEC)
    check_message(
        msg,
        'd.npz: key "lengths" must hold one length per example: shape [3], but "x" has 4 examples',
    )


def test_npz_lengths_not_integers(tmp_path):
    path = npz(tmp_path, x=SEQ, y=np.arange(4) % 3, lengths=np.array([5, 3, 2.5, 1]))
    msg = npz_error(path, {"lengths_key": "lengths"}, **SEQ_SPEC)
    assert msg.endswith(
        'd.npz: key "lengths": example 2: lengths must be whole numbers, got 2.5'
    ), msg


def test_npz_int64_inputs_not_integers(tmp_path):
    x = np.zeros((10, 3))
    x[3, 1] = 0.25
    msg = npz_error(npz(tmp_path, x=x, y=Y), input_dtype="int64")
    check_message(
        msg,
        'd.npz: key "x": example 3 at [1]: model.input_dtype is "int64" (token ids), '
        "so inputs must be whole numbers, got 0.25",
    )


def test_npz_shape_mismatch(tmp_path):
    msg = npz_error(npz(tmp_path, x=SEQ, y=np.arange(4) % 3), input_shape=["time", 3])
    check_message(
        msg,
        'd.npz: the data has examples of shape [5, 2] (10 values) but model.input_shape is ["time", 3]',
    )


def test_npz_series_too_short(tmp_path):
    path = npz(tmp_path, s=np.arange(4.0))
    msg = npz_error(path, {"series": "s", "window": 4}, input_shape=[4, 1], loss="mse", units=1)
    check_message(
        msg,
        'd.npz: series "s" has 4 values, but window 4 + horizon 1 needs at least 5; '
        "lower data.window or add data",
    )


def test_npy_object_array_refused_for_predict(tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, np.array([[1, 2, 3]], dtype=object), allow_pickle=True)
    spec = make_spec("d.npz", {"path": "d.npz"})
    with pytest.raises(DataError) as info:
        load_inputs(path, spec, None, ["0", "1", "2"])
    check_message(
        str(info.value),
        "in.npy: object arrays need pickle, which netspec never loads; "
        "save numeric or string arrays",
    )


def test_npy_for_eval_needs_targets(tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, X)
    spec = make_spec("d.npz", {"path": "d.npz"})
    with pytest.raises(DataError) as info:
        load_inputs(path, spec, None, ["0", "1", "2"], require_targets=True)
    check_message(
        str(info.value),
        "in.npy: a .npy file holds inputs only; evaluation needs targets (use .csv or .npz)",
    )


def test_npz_unseen_label_at_eval(tmp_path):
    path = npz(tmp_path, x=X[:3], y=np.array(["cat", "dog", "emu"]))
    spec = make_spec("d.npz", {"path": "d.npz"})
    with pytest.raises(DataError) as info:
        load_inputs(path, spec, None, ["cat", "dog"], require_targets=True)
    check_message(
        str(info.value),
        'd.npz: key "y": example 2: label "emu" was not seen in training (classes: cat, dog)',
    )


def test_npz_truncated_member(tmp_path):
    path = npz(tmp_path, x=X, y=Y)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    msg = npz_error(path)
    assert (
        "d.npz: not a readable .npz file" in msg or 'd.npz: key "x": cannot read the array' in msg
    )
