"""`prepare_splits`: every kind of [data] -> Splits, with the target scaling the spec asks for.

The one entry point training uses: an image folder (`images.py`), a CSV text column
(`text.py`), or numeric CSV / NPZ (`load.py`); then regression targets get their scaler
(`target_scaling.py`), fitted on the train split. `note` is a one-line hint for the user
(unscaled targets far from an output layer's starting range), or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..spec.models import Spec
from .dataset import Splits
from .load import load_splits
from .target_scaling import scale_note, target_scaler_for


def prepare_splits(spec: Spec, spec_dir: Path, dtype=np.float32, n_outputs: int | None = None,
                   progress: Callable | None = None) -> tuple[Splits, str | None]:  # fmt: skip
    """(splits, note). `progress(done, total, unit)` is called while a large file is read or
    image files are decoded (unit "images")."""
    data = spec.data
    if data is not None and data.is_image_folder:
        from .images import load_image_splits

        splits = load_image_splits(spec, Path(spec_dir), dtype, n_outputs, progress)
    elif data is not None and data.text is not None:
        from .text import load_text_splits

        splits = load_text_splits(spec, Path(spec_dir), dtype, n_outputs)
    else:
        splits = load_splits(spec, spec_dir, dtype=dtype, n_outputs=n_outputs, progress=progress)
    scaler = target_scaler_for(spec, splits.train.y, splits.standardizer)
    note = scale_note(spec, splits.train.y, scaler)
    return replace(splits, target_scaler=scaler), note


def read_inputs(path: Path, spec: Spec, standardizer, class_names, *, require_targets: bool = False,
                feature_names=None, dtype=np.float32, vocabulary=None, progress: Callable | None = None):  # fmt: skip
    """New data (predict / eval --data) read the way training read spec.data: an image file or
    folder, a CSV with the text column, or numeric CSV / NPZ / NPY (`load_inputs`)."""
    if spec.data is not None and spec.data.is_image_folder:
        from .images import load_image_inputs

        return load_image_inputs(Path(path), spec, standardizer, class_names, require_targets, dtype, progress)
    if spec.data is not None and spec.data.text is not None:
        from .text import load_text_inputs

        return load_text_inputs(Path(path), spec, vocabulary, class_names, require_targets, dtype)
    from .inputs import load_inputs

    return load_inputs(Path(path), spec, standardizer, class_names, require_targets=require_targets,
                       feature_names=feature_names, dtype=dtype, progress=progress)  # fmt: skip


NOTE_MAX_BYTES = 20_000_000  # `check` stays quick: larger files get the note from `train` only


def target_scale_note(spec: Spec, spec_dir: Path) -> str | None:
    """The unscaled-target note for `netspec check`: reads the data only for a regression spec
    whose targets are not scaled and whose data file is small; any problem reading it is left
    to `train` to report."""
    from ..errors import NetspecError

    data = spec.data
    if data is None or spec.train.task != "regression" or data.standardize_target:
        return None
    if data.series is not None and data.standardize:
        return None
    path = Path(spec_dir) / data.path
    try:
        if not path.is_file() or path.stat().st_size > NOTE_MAX_BYTES:
            return None
        return prepare_splits(spec, spec_dir)[1]
    except (NetspecError, OSError):
        return None
