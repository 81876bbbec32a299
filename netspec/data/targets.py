"""Raw targets -> training targets.

cross_entropy: int64 class indices, shape (N,) (or (N, T) for per-step labels);
binary_cross_entropy: float 0/1, shape (N, 1) (the second class name is 1.0);
regression (mse, mae): float, shape (N, k) (k = 1 for one CSV column or a series).
"""

from __future__ import annotations

import numpy as np

from ..spec.models import Spec
from .examples import Examples
from .labels import LabelEncoder
from .multilabel import encode_multilabel
from .source import fail


def encode_targets(
    ex: Examples,
    spec: Spec,
    dtype,
    class_names: list[str] | None = None,
    n_outputs: int | None = None,
) -> tuple[np.ndarray | None, list[str] | None]:
    """(y, class_names). Class names are inferred when `class_names` is None, else labels are
    mapped onto them (a label not among them is an error)."""
    if ex.target is None:
        return None, class_names
    loss = spec.train.loss
    if spec.train.task == "classification" and len(spec.data.target_columns) > 1:
        return encode_multilabel(ex, spec, dtype)
    if spec.train.task == "classification":
        enc = LabelEncoder(ex.loc, ex.target_name, ex.where)
        if class_names is None and spec.data.classes is not None:
            class_names = [str(c) for c in spec.data.classes]
        if class_names is None:
            idx, names = enc.fit(ex.target, ex.valid)
            if loss == "binary_cross_entropy":
                enc.check_binary(idx, names)
            elif n_outputs is not None:
                enc.check_outputs(names, n_outputs)
        else:
            names = list(class_names)
            idx = enc.apply(ex.target, names, ex.valid)
        if loss == "binary_cross_entropy":
            return idx[..., None].astype(dtype), names
        return idx, names
    y = np.asarray(ex.target).astype(dtype)
    if n_outputs is not None and y.ndim == 2 and y.shape[1] != n_outputs:
        raise fail(
            ex.file,
            f'the target "{ex.target_name}" has {y.shape[1]} value(s) per example, '
            f"but the model has {n_outputs} output unit{'s' if n_outputs != 1 else ''}",
        )
    return y, None
