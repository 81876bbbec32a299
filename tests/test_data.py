"""netspec.data on the real data sets: shapes, dtypes, class names, splits, windows,
standardization, inputs for predict/eval, batching."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from data_helpers import data_spec

from netspec.data import Dataset, Splits, Standardizer, iterate_batches, load_inputs, load_splits
from netspec.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
make_spec = data_spec


def read_columns(name: str) -> tuple[list[str], list[list[str]]]:
    with open(DATASETS / name, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def digits(shape=(64,), **data):
    return make_spec({"path": "digits.csv", "target": "digit", **data}, shape, units=10)


# --- the four data sets ----------------------------------------------------------------------


def test_digits_flat():
    s = load_splits(digits(), DATASETS, n_outputs=10)
    assert isinstance(s, Splits) and s.task == "classification"
    assert s.class_names == [str(k) for k in range(10)]
    assert (len(s.train), len(s.val), len(s.test)) == (1437, 180, 180)  # 1797: round(179.7) = 180
    assert s.train.x.shape == (1437, 64) and s.train.x.dtype == np.float32
    assert s.train.y.shape == (1437,) and s.train.y.dtype == np.int64
    assert s.train.lengths is None and s.standardizer is None
    assert s.feature_names == [f"p{k}" for k in range(64)]
    # every example is kept exactly once, with its own label
    _, rows = read_columns("digits.csv")
    table = np.array(rows, dtype=np.float64)
    x = np.concatenate([s.train.x, s.val.x, s.test.x])
    y = np.concatenate([s.train.y, s.val.y, s.test.y])
    order = np.lexsort(np.c_[x, y].T)
    ref = np.lexsort(table.T)
    np.testing.assert_array_equal(x[order], table[ref, :64])
    np.testing.assert_array_equal(y[order], table[ref, 64].astype(np.int64))


def test_digits_reshaped_for_a_cnn():
    spec = make_spec(
        {"path": "digits.csv", "target": "digit", "reshape": [1, 8, 8]}, [1, 8, 8], units=10
    )
    s = load_splits(spec, DATASETS, dtype=np.float64)
    assert s.train.x.shape == (1437, 1, 8, 8) and s.train.x.dtype == np.float64
    flat = load_splits(digits(), DATASETS)
    np.testing.assert_array_equal(s.train.x.reshape(1437, 64), flat.train.x)


def test_iris_string_labels():
    spec = make_spec({"path": "iris.csv", "target": "species"}, [4])
    s = load_splits(spec, DATASETS, n_outputs=3)
    assert s.class_names == ["setosa", "versicolor", "virginica"]
    assert (len(s.train), len(s.val), len(s.test)) == (120, 15, 15)
    assert s.train.x.shape == (120, 4)
    _, rows = read_columns("iris.csv")
    label_of = {tuple(float(v) for v in r[:4]): r[4] for r in rows}
    s64 = load_splits(spec, DATASETS, dtype=np.float64)
    for x, y in zip(s64.test.x, s64.test.y, strict=True):
        assert s64.class_names[y] == label_of[tuple(x)]


def test_breast_cancer_binary():
    spec = make_spec(
        {"path": "breast_cancer.csv", "target": "malignant"}, [30], "binary_cross_entropy", 1
    )
    s = load_splits(spec, DATASETS, n_outputs=1)
    assert s.class_names == ["0", "1"]
    assert s.train.y.shape == (len(s.train), 1) and s.train.y.dtype == np.float32
    assert set(np.unique(np.concatenate([s.train.y, s.val.y, s.test.y]))) == {0.0, 1.0}
    _, rows = read_columns("breast_cancer.csv")
    positives = sum(r[-1] == "1" for r in rows)
    assert int(s.train.y.sum() + s.val.y.sum() + s.test.y.sum()) == positives
    assert (len(s.train), len(s.val), len(s.test)) == (455, 57, 57)  # round(56.9) = 57


def sunspots(window=20, horizon=1, **extra):
    data = {
        "path": "sunspots.csv",
        "series": "sunspots",
        "window": window,
        "horizon": horizon,
        **extra,
    }
    return make_spec(data, ["time", 1], "mse", 1)


def sunspot_values() -> np.ndarray:
    _, rows = read_columns("sunspots.csv")
    return np.array([float(r[1]) for r in rows])


@pytest.mark.parametrize("window, horizon", [(20, 1), (10, 3)])
def test_sunspots_windows(window, horizon):
    v = sunspot_values()
    s = load_splits(sunspots(window, horizon), DATASETS, dtype=np.float64)
    n = len(v) - window - horizon + 1
    n_val = n_test = round(n * 0.1)
    assert (len(s.train), len(s.val), len(s.test)) == (n - 2 * n_val, n_val, n_test)
    assert s.task == "regression" and s.class_names is None
    x = np.concatenate([s.train.x, s.val.x, s.test.x])
    y = np.concatenate([s.train.y, s.val.y, s.test.y])
    assert x.shape == (n, window, 1) and y.shape == (n, 1)
    for i in (0, 1, n // 2, n - 1):  # file order: train, then val, then test
        np.testing.assert_array_equal(x[i, :, 0], v[i : i + window])
        assert y[i, 0] == v[i + window - 1 + horizon]


def test_sunspots_standardized_with_one_scalar_fitted_on_train():
    raw = load_splits(sunspots(), DATASETS, dtype=np.float64)
    s = load_splits(sunspots(standardize=True), DATASETS, dtype=np.float64)
    st = s.standardizer
    assert st.mean.shape == (1, 1) and st.std.shape == (1, 1)
    assert st.mean[0, 0] == pytest.approx(raw.train.x.mean())
    assert st.std[0, 0] == pytest.approx(raw.train.x.std())
    np.testing.assert_allclose(s.val.x, (raw.val.x - raw.train.x.mean()) / raw.train.x.std())
    np.testing.assert_array_equal(s.train.y, raw.train.y)  # targets stay in sunspot units


# --- splits ------------------------------------------------------------------------------------


def test_split_is_deterministic_and_seeded():
    a = load_splits(digits(), DATASETS)
    b = load_splits(digits(), DATASETS)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    other = make_spec({"path": "digits.csv", "target": "digit"}, [64], units=10, seed=1)
    c = load_splits(other, DATASETS)
    assert not np.array_equal(a.train.x, c.train.x)


def test_split_does_not_touch_the_global_rng():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    load_splits(digits(), DATASETS)
    assert np.random.random() == before


def test_custom_split_and_ordered_split():
    spec = make_spec(
        {
            "path": "iris.csv",
            "target": "species",
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
            "ordered_split": True,
        },
        [4],
    )
    s = load_splits(spec, DATASETS, dtype=np.float64)
    assert (len(s.train), len(s.val), len(s.test)) == (90, 30, 30)
    _, rows = read_columns("iris.csv")
    np.testing.assert_array_equal(s.train.x[0], [float(v) for v in rows[0][:4]])
    np.testing.assert_array_equal(s.test.x[-1], [float(v) for v in rows[-1][:4]])
    assert s.class_names[s.test.y[-1]] == "virginica"


def test_no_val_or_test_gives_none():
    spec = make_spec(
        {"path": "iris.csv", "target": "species", "split": {"train": 1.0, "val": 0.0, "test": 0.0}},
        [4],
    )
    s = load_splits(spec, DATASETS)
    assert len(s.train) == 150 and s.val is None and s.test is None


# --- standardization -----------------------------------------------------------------------


def test_standardization_fitted_on_train_only():
    raw = load_splits(digits(), DATASETS, dtype=np.float64)
    s = load_splits(digits(standardize=True), DATASETS, dtype=np.float64)
    st = s.standardizer
    assert st.mean.shape == (64,) and st.mean.dtype == np.float64
    np.testing.assert_allclose(st.mean, raw.train.x.mean(axis=0))
    sd = raw.train.x.std(axis=0)
    np.testing.assert_allclose(st.std, np.where(sd == 0, 1.0, sd))
    np.testing.assert_allclose(s.train.x.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(s.test.x, (raw.test.x - st.mean) / st.std)
    # the test split's own mean is not what was removed
    assert not np.allclose(raw.test.x.mean(axis=0), st.mean)


def test_standardizer_round_trips_through_json():
    s = load_splits(digits(standardize=True, reshape=[1, 8, 8], shape=[1, 8, 8]), DATASETS)
    st = s.standardizer
    assert st.mean.shape == (1, 8, 8)
    back = Standardizer.from_dict(json.loads(json.dumps(st.to_dict())))
    np.testing.assert_array_equal(back.mean, st.mean)
    np.testing.assert_array_equal(back.std, st.std)
    x = np.ones((2, 1, 8, 8), dtype=np.float32)
    out = back.apply(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x - st.mean) / st.std, rtol=1e-6)
    assert (st.std > 0).all()  # constant pixels are stored with std 1


def seq_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(40, 6, 2))
    lengths = rng.integers(1, 7, size=40)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    np.savez(tmp_path / "seq.npz", x=x, y=rng.integers(0, 3, size=40), lengths=lengths)
    return tmp_path / "seq.npz"


def test_npz_sequences_with_lengths(tmp_path):
    path = seq_npz(tmp_path)
    spec = make_spec(
        {"path": path.name, "lengths_key": "lengths", "standardize": True}, ["time", 2]
    )
    s = load_splits(spec, tmp_path, dtype=np.float64)
    assert s.train.x.shape == (32, 6, 2) and s.train.lengths.dtype == np.int64
    st = s.standardizer
    assert st.mean.shape == (1, 2)  # shared along the named "time" axis
    with np.load(path) as f:
        x, lengths = f["x"], f["lengths"]
    raw = load_splits(
        make_spec({"path": path.name, "lengths_key": "lengths"}, ["time", 2]), tmp_path, np.float64
    )
    real = np.concatenate([xi[:n] for xi, n in zip(raw.train.x, raw.train.lengths, strict=True)])
    np.testing.assert_allclose(st.mean[0], real.mean(axis=0))  # padded steps left out
    np.testing.assert_allclose(st.std[0], real.std(axis=0))
    for xi, n in zip(s.train.x, s.train.lengths, strict=True):
        assert (xi[n:] == 0).all()
    assert x.shape == (40, 6, 2) and lengths.shape == (40,)


def test_int64_token_ids_never_standardized(tmp_path):
    tokens = np.arange(50).reshape(10, 5) % 7
    np.savez(tmp_path / "tok.npz", x=tokens.astype(np.float64), y=np.arange(10) % 2)
    spec = make_spec(
        {"path": "tok.npz", "standardize": True},
        ["time"],
        "binary_cross_entropy",
        1,
        input_dtype="int64",
    )
    s = load_splits(spec, tmp_path)
    assert s.train.x.dtype == np.int64 and s.standardizer is None
    assert s.train.y.shape == (8, 1)


# --- class names -------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_integer_labels_sort_numerically(tmp_path):
    write(tmp_path, "n.csv", "a,y\n1,10\n2,2\n3,1.0\n4,2\n")
    spec = make_spec(
        {
            "path": "n.csv",
            "target": "y",
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
            "ordered_split": True,
        },
        [1],
    )
    s = load_splits(spec, tmp_path)
    assert s.class_names == ["1", "2", "10"]
    assert s.train.y.tolist() == [2, 1, 0, 1]


def test_binary_string_labels_second_is_positive(tmp_path):
    write(tmp_path, "b.csv", "a,y\n1,yes\n2,no\n3,yes\n")
    spec = make_spec(
        {
            "path": "b.csv",
            "target": "y",
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
            "ordered_split": True,
        },
        [1],
        "binary_cross_entropy",
        1,
    )
    s = load_splits(spec, tmp_path)
    assert s.class_names == ["no", "yes"]
    assert s.train.y[:, 0].tolist() == [1.0, 0.0, 1.0]


def test_regression_csv_target(tmp_path):
    write(tmp_path, "r.csv", "a,b,price\n1,2,10.5\n3,4,-1\n")
    spec = make_spec(
        {
            "path": "r.csv",
            "target": "price",
            "features": ["b", "a"],
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
            "ordered_split": True,
        },
        [2],
        "mse",
        1,
    )
    s = load_splits(spec, tmp_path, n_outputs=1)
    assert s.train.y.shape == (2, 1) and s.train.y.dtype == np.float32
    assert s.train.y[:, 0].tolist() == [10.5, -1.0]
    assert s.train.x.tolist() == [[2, 1], [4, 3]] and s.feature_names == ["b", "a"]


def test_load_spec_from_a_toml_file(tmp_path):
    write(tmp_path, "iris.csv", (DATASETS / "iris.csv").read_text())
    spec_file = write(
        tmp_path,
        "s.toml",
        'name = "iris"\n[data]\npath = "iris.csv"\ntarget = "species"\nstandardize = true\n'
        '[model]\ninput_shape = [4]\n[[model.layers]]\ntype = "dense"\nunits = 3\nactivation = "softmax"\n'
        '[train]\nepochs = 1\nloss = "cross_entropy"\n',
    )
    s = load_splits(load_spec(spec_file), spec_file.parent)
    assert s.class_names == ["setosa", "versicolor", "virginica"] and s.standardizer.mean.shape == (
        4,
    )


# --- load_inputs -------------------------------------------------------------------------------


def test_load_inputs_csv_with_and_without_target(tmp_path):
    spec = make_spec({"path": "iris.csv", "target": "species", "standardize": True}, [4])
    s = load_splits(spec, DATASETS)
    ds = load_inputs(
        DATASETS / "iris.csv", spec, s.standardizer, s.class_names, feature_names=s.feature_names
    )
    assert isinstance(ds, Dataset) and ds.x.shape == (150, 4) and ds.y.shape == (150,)
    assert ds.y[0] == 0 and ds.y[-1] == 2
    # columns in another order, no target: the same inputs
    _, rows = read_columns("iris.csv")
    lines = ["petal_width,sepal_length,petal_length,sepal_width"]
    lines += [f"{r[3]},{r[0]},{r[2]},{r[1]}" for r in rows]
    path = write(tmp_path, "new.csv", "\n".join(lines) + "\n")
    new = load_inputs(path, spec, s.standardizer, s.class_names, feature_names=s.feature_names)
    assert new.y is None
    np.testing.assert_array_equal(new.x, ds.x)


def test_load_inputs_npy_and_npz(tmp_path):
    spec = make_spec(
        {"path": "digits.csv", "target": "digit", "reshape": [1, 8, 8]}, [1, 8, 8], units=10
    )
    s = load_splits(spec, DATASETS)
    np.save(tmp_path / "one.npy", np.arange(64.0))  # a single flat example
    one = load_inputs(tmp_path / "one.npy", spec, None, s.class_names)
    assert one.x.shape == (1, 1, 8, 8) and one.y is None
    np.savez(tmp_path / "many.npz", x=np.zeros((5, 64)), digit=np.array([0, 9, 9, 1, 2]))
    many = load_inputs(tmp_path / "many.npz", spec, None, s.class_names, require_targets=True)
    assert many.x.shape == (5, 1, 8, 8) and many.y.tolist() == [0, 9, 9, 1, 2]


def test_load_inputs_series_predict_and_eval():
    spec = sunspots(standardize=True)
    s = load_splits(spec, DATASETS)
    v = sunspot_values()
    pred = load_inputs(DATASETS / "sunspots.csv", spec, s.standardizer, None)
    assert pred.x.shape == (len(v) - 19, 20, 1) and pred.y is None
    ev = load_inputs(DATASETS / "sunspots.csv", spec, s.standardizer, None, require_targets=True)
    assert ev.x.shape == (len(v) - 20, 20, 1) and ev.y[-1, 0] == np.float32(v[-1])
    np.testing.assert_allclose(
        pred.x[-1, :, 0], s.standardizer.apply(v[-20:][:, None])[:, 0], rtol=1e-5
    )


# --- batches -----------------------------------------------------------------------------------


def test_iterate_batches():
    batches = list(iterate_batches(10, 4, None))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    a = list(iterate_batches(10, 3, np.random.default_rng(5)))
    b = list(iterate_batches(10, 3, np.random.default_rng(5)))
    assert [len(x) for x in a] == [3, 3, 3, 1]
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.concatenate(a).tolist() != list(range(10))
    assert list(iterate_batches(0, 4, None)) == []


def test_dataset_take():
    ds = Dataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]), np.array([1, 2, 2]))
    sub = ds.take(np.array([2, 0]))
    assert (
        sub.x.tolist() == [[4, 5], [0, 1]]
        and sub.y.tolist() == [2, 0]
        and sub.lengths.tolist() == [2, 1]
    )
