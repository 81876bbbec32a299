"""`load_inputs`: new data for `netspec predict --input FILE` and `netspec eval --data FILE`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..spec.models import Spec
from .dataset import Dataset
from .examples import read_examples
from .load import check_data_file, standardize
from .rows import Rows
from .shapes import time_axis
from .standardize import Standardizer
from .targets import encode_targets


def load_inputs(
    path: Path,
    spec: Spec,
    standardizer: Standardizer | None,
    class_names: list[str] | None,
    *,
    require_targets: bool = False,
    feature_names: list[str] | None = None,
    dtype=np.float32,
    progress=None,
) -> Dataset:
    """Examples in `path` (.csv, .npz or .npy) read the way training read spec.data.

    CSV: the feature columns are `feature_names` (saved from training), else data.features, else
    every column but the target; when the target column is there its labels become `y`
    (a label not in `class_names` is an error). NPZ: data.x_key, the target key when present,
    data.lengths_key. NPY: inputs only (one example may omit the batch axis).
    Series: with `require_targets` (eval) the windows that have a target, else (predict) every
    full window, the last one ending at the last value.
    `require_targets=True` (eval) makes a missing target an error. The standardizer is applied
    per batch: x is a `Rows` view (a memory map for .npy / stored .npz inputs), so `predict` and
    `eval` stream through files larger than memory.
    """
    mode = "eval" if require_targets else "predict"
    ex = read_examples(check_data_file(Path(path)), spec, mode, feature_names, dtype=dtype, progress=progress)
    y, _ = encode_targets(ex, spec, dtype, class_names)  # class_names None: inferred from the file
    int_input = spec.model.input_dtype == "int64"
    ds = Dataset(Rows(ex.x, dtype=np.int64 if int_input else dtype), y, ex.lengths, ex.target_lengths)
    if standardizer is not None and not int_input:
        ds = standardize(ds, standardizer, time_axis(spec.model.input_shape))
    return ds
