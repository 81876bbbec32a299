"""Multi-label targets: several 0/1 CSV columns, one sigmoid output each
(`target = ["a", "b"]` with `binary_cross_entropy`). The label names are the column names."""

from __future__ import annotations

import numpy as np

from .source import fail


def encode_multilabel(ex, spec, dtype) -> tuple[np.ndarray, list[str]]:
    """(y float (N, k) of 0/1, the target column names); anything but 0/1 is a located error."""
    names = spec.data.target_columns
    if spec.train.loss != "binary_cross_entropy":
        raise fail(
            ex.file,
            f"data.target names {len(names)} columns, one label each: that is multi-label "
            f'classification, which needs train.loss = "binary_cross_entropy" with one sigmoid '
            f'unit per column (got "{spec.train.loss}"); for one class per example use a single '
            "target column",
        )
    y = np.asarray(ex.target, dtype=np.float64)
    bad = (y != 0) & (y != 1)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ex.loc.error(i, names[j], f"a multi-label target must be 0 or 1, got {y[i, j]:g}")
    return y.astype(dtype), list(names)
