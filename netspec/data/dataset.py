"""The containers the rest of netspec uses: `Dataset` (one split) and `Splits` (all of them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rows import Rows
from .standardize import Standardizer


@dataclass
class Dataset:
    """Examples of one split.

    x: (N, *per_example_shape), float32 (or the requested float dtype), int64 for token ids:
       an ndarray, or a `Rows` view (an index over the source array, read and standardized per
       batch: `x[idx]` and `x[a:b]` give ndarrays, `np.asarray(x)` reads it all).
    y: None (unlabelled inputs), or
       cross_entropy: int64 class indices (N,) ((N, T) for per-step labels);
       binary_cross_entropy: float 0/1 (N, 1);
       regression: float (N, k) (k = 1 for one target column / a series).
    lengths: None, or int64 (N,) real sequence lengths (1..T along the time axis).
    target_lengths: None, or int64 (N,) real lengths of per-step targets whose time axis is not
        the input's (a decoder's output): they mask the loss and metrics only.
    """

    x: np.ndarray
    y: np.ndarray | None
    lengths: np.ndarray | None = None
    target_lengths: np.ndarray | None = None
    names: list[str] | None = None  # what each example is called (image files), when known

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, idx: np.ndarray) -> Dataset:
        """The examples at `idx`, in that order (a `Rows` view for x: an index, not a copy)."""
        return Dataset(
            self.x.take(idx) if isinstance(self.x, Rows) else self.x[idx],
            None if self.y is None else self.y[idx],
            None if self.lengths is None else self.lengths[idx],
            None if self.target_lengths is None else self.target_lengths[idx],
            None if self.names is None else [self.names[int(i)] for i in idx],
        )


@dataclass
class Splits:
    """Everything training needs from [data].

    task: "classification" or "regression" (from train.loss).
    class_names: classification only; class index i is class_names[i].
    standardizer: fitted on train when data.standardize (already applied to every split here;
        apply it again only to new inputs, e.g. `load_inputs` does).
    feature_names: the CSV columns used as inputs, in order (None for NPZ and series); keep it
        with the model so `predict` reads the same columns.
    target_scaler / vocabulary: see below; both are kept with the model.
    """

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    class_names: list[str] | None
    standardizer: Standardizer | None
    task: str
    feature_names: list[str] | None = None
    # Regression targets trained as (y - mean) / std (data.target_scaling); y stays in data units.
    target_scaler: object | None = None
    # Text inputs: the vocabulary built on the train split (netspec.data.text.Vocabulary).
    vocabulary: object | None = None
