"""`load_splits`: the [data] table of a spec -> train / val / test `Dataset`s."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import safe_io
from ..kernels.padding import zero_padded_steps
from ..spec.models import Spec
from .dataset import Dataset, Splits
from .examples import read_examples
from .rows import Rows
from .shapes import symbolic_axes, time_axis
from .source import display_name, fail
from .split import split_indices
from .standardize import Standardizer
from .targets import encode_targets


def check_data_file(path: Path) -> Path:
    """A data file is a regular file under the size cap (a FIFO would block, a device never end)."""
    if path.is_dir() or not (path.exists() or path.is_symlink()):
        return path  # the readers word these ("file not found", "is a folder")
    file = display_name(path)
    # .npy / .npz are memory-mapped (their headers are checked against the bytes there; a
    # compressed member against the machine's memory), so only files read whole are capped.
    mapped = path.suffix.lower() in (".npy", ".npz")
    limit = 1 << 62 if mapped else safe_io.DATA_LIMIT
    safe_io.check_regular(path, limit=limit, what="data file", error=lambda m: fail(file, m))
    return path


def step_mask(x: np.ndarray, lengths: np.ndarray | None, axis: int) -> np.ndarray | None:
    """Boolean mask broadcastable to x: True at real steps (None when there are no lengths)."""
    if lengths is None:
        return None
    steps = x.shape[axis]
    mask = np.arange(steps)[None, :] < lengths[:, None]  # (N, T)
    shape = [x.shape[0]] + [1] * (x.ndim - 1)
    shape[axis] = steps
    return mask.reshape(shape)


def standardize_axes(spec: Spec, ndim: int) -> tuple[int, ...]:
    """Axes of x the statistics are shared over: all for a series, else the example axis and
    the named (symbolic) axes of model.input_shape."""
    if spec.data.series is not None:
        return tuple(range(ndim))
    return (0, *symbolic_axes(spec.model.input_shape))


def standardize(ds: Dataset, st: Standardizer, axis: int) -> Dataset:
    """`ds` with `st` applied to every batch read from it; padded steps stay exactly 0."""
    x = ds.x if isinstance(ds.x, Rows) else Rows(ds.x)
    full_lengths = _source_lengths(ds)

    def transform(xb: np.ndarray, rows) -> np.ndarray:
        out = st.apply(xb)
        if full_lengths is not None:
            out = zero_padded_steps(out, full_lengths[rows], axis)  # kernels/padding.py
        return out

    return Dataset(x.with_transform(transform), ds.y, ds.lengths, ds.target_lengths)


def _source_lengths(ds: Dataset) -> np.ndarray | None:
    """Lengths indexed by source row (what a Rows transform receives)."""
    if ds.lengths is None:
        return None
    x = ds.x
    if not isinstance(x, Rows) or x.index is None:
        return ds.lengths
    out = np.ones(x.source.shape[0], dtype=np.int64)
    out[x.index] = ds.lengths
    return out


def load_splits(
    spec: Spec, spec_dir: Path, dtype=np.float32, n_outputs: int | None = None, progress=None
) -> Splits:
    """Read, encode, split and standardize the examples of `spec.data`.

    `spec_dir` is the folder of the spec file (data.path is relative to it); `dtype` is the float
    dtype of inputs and float targets; `n_outputs` (the model's output units, optional) turns a
    class index the model cannot produce into a located error; `progress(done, total)` is called
    while a large file is read (bytes).

    Each split's x is a `Rows` view over the one source array (an index array, no copy; the
    source is a memory map for .npy and stored .npz members), standardized per batch.
    """
    if spec.data is None:
        raise fail("<spec>", "the spec has no [data] table, so there is nothing to train on")
    data = spec.data
    targets = check_data_file(Path(spec_dir) / data.targets) if data.targets else None
    ex = read_examples(check_data_file(Path(spec_dir) / data.path), spec, "train", dtype=dtype,
                       progress=progress, targets=targets)  # fmt: skip
    y, class_names = encode_targets(ex, spec, dtype, None, n_outputs)
    int_input = spec.model.input_dtype == "int64"
    full = Dataset(Rows(ex.x, dtype=np.int64 if int_input else dtype), y, ex.lengths, ex.target_lengths)
    ordered = data.ordered_split or data.series is not None
    what = "windows" if data.series is not None else "examples"
    tr, va, te = split_indices(
        len(full), data.split.val, data.split.test, spec.seed, ordered, ex.file, what
    )
    train = full.take(tr)
    val = full.take(va) if va.size else None
    test = full.take(te) if te.size else None
    standardizer = None
    if data.standardize and not int_input:
        axis = time_axis(spec.model.input_shape)
        fit_rows = np.sort(tr)  # file order: sequential reads of a memory map
        fit_x = full.x.take(fit_rows)
        mask = step_mask(fit_x, None if ex.lengths is None else ex.lengths[fit_rows], axis)
        standardizer = Standardizer.fit(fit_x, standardize_axes(spec, fit_x.ndim), mask)
        train = standardize(train, standardizer, axis)
        val = standardize(val, standardizer, axis) if val is not None else None
        test = standardize(test, standardizer, axis) if test is not None else None
    return Splits(train, val, test, class_names, standardizer, spec.train.task, ex.feature_names)
