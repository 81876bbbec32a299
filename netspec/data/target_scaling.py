"""Regression target scaling: the network learns (y - mean) / std, every prediction is mapped
back with out * std + mean (in metrics, predict, eval, Model.predict and the exported ONNX,
where it is a Mul and an Add after the output).

Why: an output layer starts near 0 with a spread near 1; a target of ~900 (std 168) makes the
last bias learn 900 from a start near 0, which a few hundred Adam steps do not manage.

- a series (`data.series` with `standardize = true`): the one scalar mean/std of the input
  windows (it is one series, so inputs and targets share the statistics);
- tabular regression with `standardize_target = true`: one mean/std per target column, fitted
  on the train split. A constant column gets std 1.

Targets in a `Dataset` always stay in the data's units; only the loss sees scaled targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CheckpointError

# An unscaled output layer starts at about 0 +- 1: a target mean or spread this far from that
# takes many epochs just to reach the right scale.
FAR_MEAN = 10.0
FAR_STD = 10.0


@dataclass
class TargetScaler:
    mean: np.ndarray  # (k,) one per output column (a scalar broadcast for a series)
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        self.std = np.where((std == 0) | ~np.isfinite(std), 1.0, std)

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScaler:
        y = np.asarray(y, dtype=np.float64)
        flat = y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(-1, 1)
        return cls(flat.mean(axis=0), flat.std(axis=0))

    def scale(self, y: np.ndarray) -> np.ndarray:
        """Data units -> what the network is trained to output (dtype of y)."""
        y = np.asarray(y)
        return ((y - self.mean) / self.std).astype(y.dtype, copy=False)

    def unscale(self, out: np.ndarray) -> np.ndarray:
        """Network output -> data units (dtype of out)."""
        out = np.asarray(out)
        return (out * self.std + self.mean).astype(out.dtype, copy=False)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> TargetScaler:
        try:
            mean = np.asarray(data["mean"], dtype=np.float64).reshape(-1)
            std = np.asarray(data["std"], dtype=np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"target_scaler: expected mean and std lists ({exc})") from None
        if mean.shape != std.shape or not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std <= 0).any():
            raise CheckpointError("target_scaler: mean and std must be finite lists of one length, std > 0")
        return cls(mean, std)


def target_scaler_for(spec, train_y: np.ndarray | None, standardizer) -> TargetScaler | None:
    """The scaler the spec asks for (None when targets are trained as they are)."""
    data = spec.data
    if data is not None and data.standardize_target and spec.train.task != "regression":
        from .source import fail

        raise fail(data.path, f'data.standardize_target scales regression targets, but train.loss "{spec.train.loss}" '
                   "makes this a classification task; remove standardize_target")  # fmt: skip
    if data is None or train_y is None or spec.train.task != "regression":
        return None
    if data.series is not None:
        if not data.standardize or standardizer is None:
            return None
        return TargetScaler(np.ravel(standardizer.mean)[:1], np.ravel(standardizer.std)[:1])
    if data.standardize_target:
        return TargetScaler.fit(train_y)
    return None


def scale_note(spec, train_y: np.ndarray | None, scaler: TargetScaler | None) -> str | None:
    """A one-line hint when unscaled regression targets are far from where the output starts."""
    if scaler is not None or train_y is None or spec.data is None or spec.train.task != "regression":
        return None
    st = TargetScaler.fit(train_y)
    mean, std = float(np.max(np.abs(st.mean))), float(np.max(st.std))
    if mean <= FAR_MEAN and std <= FAR_STD:
        return None
    key = "data.standardize = true" if spec.data.series is not None else "data.standardize_target = true"
    return (
        f"the regression target has mean {mean:.4g} and spread (std) {std:.4g}, far from the 0 +- 1 an "
        f"unscaled output layer starts at; training may need many epochs to reach that scale: set "
        f"{key} to learn scaled targets (predictions are mapped back to the data's units)"
    )
