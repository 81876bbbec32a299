"""The confusion matrix of a trained classifier on a data set (rows: true, columns: predicted)."""

from __future__ import annotations

import numpy as np

from ..training.metrics import confusion_matrix


def confusion_of(model, ds) -> tuple[list[str], np.ndarray]:
    """(class names, counts) for a prepared Dataset; padded sequence steps are not examples."""
    names = model.class_names or [str(i) for i in range(model.graph.output_shape[-1])]
    pred = model.labels(model.predict(ds.x, ds.lengths, raw=False))
    true = ds.y[..., 0] if ds.y.ndim == 2 and ds.y.shape[-1] == 1 else ds.y
    mask = model.plan.loss_mask(ds.lengths, pred.shape[1] if pred.ndim > 1 else 0, ds.target_lengths)
    if mask is not None:
        true, pred = np.asarray(true)[mask], pred[mask]
    return names, confusion_matrix(np.asarray(true, dtype=np.int64), pred, len(names))
