"""Metrics on small hand-computed examples, and against plain-loop formulas on random data."""

from __future__ import annotations

import numpy as np
import pytest

from netspec.training.metrics import (
    METRICS,
    accuracy,
    confusion_matrix,
    f1,
    higher_is_better,
    mae,
    mse,
    precision,
    r2,
    recall,
    rmse,
    task_kind,
)


def one_hot_probs(labels, n: int) -> np.ndarray:
    """Softmax-like rows whose argmax is `labels`."""
    p = np.full((len(labels), n), 0.1 / (n - 1))
    p[np.arange(len(labels)), labels] = 0.9
    return p


# y_true = [0,1,2,2,1,0], predicted [0,2,2,2,1,1]
#   confusion (rows true): [[1,1,0],[0,1,1],[0,0,2]]
#   precision per class 1, 1/2, 2/3; recall 1/2, 1/2, 1; f1 2/3, 1/2, 4/5
MC_TRUE = np.array([0, 1, 2, 2, 1, 0])
MC_PROBS = one_hot_probs([0, 2, 2, 2, 1, 1], 3)


def test_multiclass_hand_example():
    assert accuracy(MC_TRUE, MC_PROBS, "multiclass") == pytest.approx(4 / 6)
    assert precision(MC_TRUE, MC_PROBS, "multiclass") == pytest.approx((1 + 1 / 2 + 2 / 3) / 3)
    assert recall(MC_TRUE, MC_PROBS, "multiclass") == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    assert f1(MC_TRUE, MC_PROBS, "multiclass") == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    assert confusion_matrix(MC_TRUE, [0, 2, 2, 2, 1, 1], 3).tolist() == [
        [1, 1, 0],
        [0, 1, 1],
        [0, 0, 2],
    ]


def test_multiclass_macro_skips_classes_absent_everywhere():
    probs = np.pad(MC_PROBS, ((0, 0), (0, 2)))  # classes 3, 4 never true nor predicted
    assert precision(MC_TRUE, probs, "multiclass") == precision(MC_TRUE, MC_PROBS, "multiclass")
    # class 2 is true but never predicted: precision 0 for it (no division by zero)
    probs = one_hot_probs([0, 1, 1, 0, 1, 0], 3)
    assert precision(MC_TRUE, probs, "multiclass") == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert recall(MC_TRUE, probs, "multiclass") == pytest.approx((1 + 1 + 0) / 3)


# y_true [1,0,1,1,0,0], p [.9,.6,.4,.7,.2,.5] -> predicted [1,1,0,1,0,0] (0.5 is negative)
#   tp 2, fp 1, fn 1, tn 2
BIN_TRUE = np.array([[1.0], [0.0], [1.0], [1.0], [0.0], [0.0]])
BIN_PROBS = np.array([[0.9], [0.6], [0.4], [0.7], [0.2], [0.5]])


def test_binary_hand_example():
    assert accuracy(BIN_TRUE, BIN_PROBS, "binary") == pytest.approx(4 / 6)
    assert precision(BIN_TRUE, BIN_PROBS, "binary") == pytest.approx(2 / 3)
    assert recall(BIN_TRUE, BIN_PROBS, "binary") == pytest.approx(2 / 3)
    assert f1(BIN_TRUE, BIN_PROBS, "binary") == pytest.approx(2 / 3)
    # (batch,) targets for a (batch, 1) output are accepted
    assert accuracy(BIN_TRUE[:, 0], BIN_PROBS, "binary") == pytest.approx(4 / 6)
    # nothing predicted positive: precision 0, not NaN
    assert precision(BIN_TRUE, np.zeros((6, 1)), "binary") == 0.0


def test_regression_hand_example():
    t = np.array([[1.0], [2.0], [3.0], [4.0]])
    p = np.array([[1.5], [2.0], [2.0], [5.0]])  # errors .5, 0, -1, 1
    assert mse(t, p, "regression") == pytest.approx(2.25 / 4)
    assert mae(t, p, "regression") == pytest.approx(2.5 / 4)
    assert rmse(t, p, "regression") == pytest.approx(0.75)
    assert r2(t, p, "regression") == pytest.approx(1 - 2.25 / 5)  # SS_tot = 5
    assert r2(t, t, "regression") == 1.0
    assert r2(np.ones((3, 1)), np.ones((3, 1)), "regression") == 1.0  # constant, exact
    assert r2(np.ones((3, 1)), np.zeros((3, 1)), "regression") == 0.0  # constant, missed


def _loop_scores(true, pred):
    """Per-class precision/recall/f1 by counting, macro over classes present anywhere."""
    classes = sorted(set(true) | set(pred))
    ps, rs, fs = [], [], []
    for c in classes:
        tp = sum(1 for a, b in zip(true, pred) if a == c and b == c)
        fp = sum(1 for a, b in zip(true, pred) if a != c and b == c)
        fn = sum(1 for a, b in zip(true, pred) if a == c and b != c)
        ps.append(tp / (tp + fp) if tp + fp else 0.0)
        rs.append(tp / (tp + fn) if tp + fn else 0.0)
        fs.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return np.mean(ps), np.mean(rs), np.mean(fs)


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_against_loops(seed):
    r = np.random.default_rng(seed)
    true = r.integers(0, 5, 40)
    probs = r.dirichlet(np.ones(5), 40)
    pred = probs.argmax(1)
    want = _loop_scores(true.tolist(), pred.tolist())
    got = [m(true, probs, "multiclass") for m in (precision, recall, f1)]
    assert got == pytest.approx(list(want))
    assert accuracy(true, probs, "multiclass") == pytest.approx(np.mean(true == pred))
    cm = confusion_matrix(true, pred, 5)
    for i in range(5):
        for j in range(5):
            assert cm[i, j] == np.sum((true == i) & (pred == j))


@pytest.mark.parametrize("seed", range(3))
def test_regression_against_formulas(seed):
    r = np.random.default_rng(seed)
    t, p = r.standard_normal((30, 2)), r.standard_normal((30, 2))
    assert mse(t, p, "regression") == pytest.approx(np.mean((t - p) ** 2))
    assert mae(t, p, "regression") == pytest.approx(np.mean(np.abs(t - p)))
    assert rmse(t, p, "regression") == pytest.approx(np.sqrt(np.mean((t - p) ** 2)))
    per_col = [
        1 - np.sum((t[:, k] - p[:, k]) ** 2) / np.sum((t[:, k] - t[:, k].mean()) ** 2)
        for k in range(2)
    ]
    assert r2(t, p, "regression") == pytest.approx(np.mean(per_col))


def test_mask_drops_padded_steps():
    true = np.array([[0, 1, 2], [2, 2, 0]])  # (batch, time)
    probs = np.stack([one_hot_probs([0, 1, 0], 3), one_hot_probs([2, 0, 1], 3)])
    mask = np.array([[1, 1, 0], [1, 0, 0]])  # real: (0->0), (1->1), (2->2)
    assert accuracy(true, probs, "multiclass", mask=mask) == 1.0
    assert accuracy(true, probs, "multiclass") == pytest.approx(3 / 6)
    t = np.array([[[1.0], [2.0]], [[3.0], [9.0]]])
    p = np.array([[[1.0], [2.5]], [[2.0], [0.0]]])
    assert mae(t, p, "regression", mask=np.array([[1, 1], [1, 0]])) == pytest.approx(1.5 / 3)


def test_tables_and_direction():
    assert set(METRICS) == {"accuracy", "precision", "recall", "f1", "mse", "mae", "rmse", "r2"}
    assert higher_is_better("val_accuracy") and higher_is_better("r2") and higher_is_better("f1")
    assert not higher_is_better("val_loss") and not higher_is_better("loss")
    assert not higher_is_better("val_rmse") and not higher_is_better("mae")
    with pytest.raises(ValueError):
        higher_is_better("val_bogus")
    assert task_kind("cross_entropy") == "multiclass"
    assert task_kind("binary_cross_entropy") == "binary"
    assert task_kind("mse") == "regression"
    for fn in METRICS.values():
        out = fn(BIN_TRUE, BIN_PROBS, "binary")
        assert isinstance(out, float)
