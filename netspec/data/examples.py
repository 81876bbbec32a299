"""Read the examples of one file (CSV, NPZ or NPY) as the spec describes them: inputs shaped
and checked against the model, raw targets (label strings or numbers) ready to encode.

`mode` is "train" (targets required), "eval" (targets required) or "predict" (targets read when
present). Targets are not encoded here: see `targets.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..spec.models import Spec
from .csv_reader import CsvTable, read_csv
from .labels import label_texts
from .parquet_reader import read_parquet
from .npz_reader import NpzArrays, as_numbers, read_npy
from .shapes import apply_reshape, as_int64, check_input_shape, time_axis
from .source import Locator, display_name, fail
from .windows import all_windows, make_windows


@dataclass
class Examples:
    file: str
    x: np.ndarray  # (N, *per_example) float64, or int64 for token ids
    lengths: np.ndarray | None
    target: np.ndarray | None  # label strings (classification) or float64 (regression)
    target_name: str | None
    loc: Locator
    where: Callable[[int], object]  # flat target index -> Locator index
    valid: np.ndarray | None = None  # which target entries are real (per-step labels)
    feature_names: list[str] | None = None
    target_lengths: np.ndarray | None = None  # data.target_lengths_key: real steps of each target


def _series_examples(values: np.ndarray, spec: Spec, file: str, mode: str) -> Examples:
    """One long series cut into windows: with targets `horizon` steps ahead, or (predict)
    every full window, the last one ending at the last value."""
    data = spec.data
    if mode == "predict":
        x, y = all_windows(values, data.window, file, data.series), None
    else:
        x, y = make_windows(values, data.window, data.horizon, file, data.series)
    x = apply_reshape(x, data.reshape, file)
    return Examples(file, x, None, y, data.series, Locator(file), lambda i: None)


def npz_target_key(spec: Spec) -> str:
    targets = spec.data.target_columns
    if len(targets) > 1:
        raise fail(spec.data.path, "several targets (data.target as a list) are read from CSV columns; "
                   "an .npz file holds its targets as one array: name its key")
    return targets[0] if targets else "y"


def _feature_names(table: CsvTable, spec: Spec, given: list[str] | None) -> list[str]:
    data = spec.data
    names = given or data.features
    if names is None:
        names = [h for h in table.header if h not in data.target_columns]
        if not names:
            raise fail(
                table.file,
                "no input columns: the file has only the target column",
                table.header_line,
            )
        return names
    if not names:
        raise fail(table.file, "data.features is empty; name at least one input column")
    seen = set()
    for name in names:
        if name in data.target_columns:
            raise fail(
                table.file, f'column "{name}" is both the target and a feature (data.features)'
            )
        if name in seen:
            raise fail(table.file, f'column "{name}" is listed twice in data.features')
        seen.add(name)
    return list(names)


def _csv_target(table: CsvTable, spec: Spec) -> np.ndarray:
    targets = spec.data.target_columns
    name = targets[0]
    if spec.train.task == "classification" and len(targets) > 1:  # multi-label: 0/1 per column
        return table.numbers(targets, "target", "0 or 1 (one column per label)")
    if spec.train.task != "classification" and len(targets) > 1:
        return table.numbers(targets, "target", f'a number (train.loss "{spec.train.loss}" is a regression loss)')
    if spec.train.task == "classification":
        return np.array(table.texts(name, "target", "a class label"), dtype=object)
    expected = (
        f'a number (train.loss "{spec.train.loss}" is a regression loss; '
        'use "cross_entropy" for class labels)'
    )
    return table.numbers([name], "target", expected)


def _from_csv(path: Path, file: str, spec: Spec, mode: str, given: list[str] | None, dtype, progress) -> Examples:
    data = spec.data
    reader = read_parquet if path.suffix.lower() == ".parquet" else read_csv
    table = reader(path, file, progress)
    loc = table.locator
    if data.lengths_key is not None:
        raise fail(file, "data.lengths_key applies to .npz files only")  # (Parquet too)
    if data.series is not None:
        return _series_examples(table.numbers([data.series], "series")[:, 0], spec, file, mode)
    if data.target is not None and mode != "predict":
        for t in data.target_columns:
            table.column(t, "target")  # a missing target is reported before any cell
    names = _feature_names(table, spec, given)
    int_input = spec.model.input_dtype == "int64"
    x = table.numbers(names, "feature", dtype=np.float64 if int_input else dtype)
    if int_input:
        x = as_int64(x, loc, names, None)  # located before the reshape, while cells have columns
    x = apply_reshape(x, data.reshape, file)
    target = None
    if data.target is not None and (mode != "predict" or all(table.has(t) for t in data.target_columns)):
        target = _csv_target(table, spec)
    tname = ", ".join(data.target_columns) if data.target is not None else None
    return Examples(file, x, None, target, tname, loc, lambda i: int(i), None, names)


def _npz_lengths(npz: NpzArrays, key: str, x: np.ndarray, axis: int, x_key: str,
                 what: str = "data.lengths_key") -> np.ndarray:  # fmt: skip
    loc = Locator(npz.file, key=key)
    arr = npz.get(key, what)
    if arr.ndim != 1 or arr.shape[0] != x.shape[0]:
        raise fail(
            npz.file,
            f'key "{key}" must hold one length per example: shape {list(arr.shape)}, '
            f'but "{x_key}" has {x.shape[0]} examples',
        )
    values = as_int64(as_numbers(arr, loc, key), loc, None, key, "lengths must be whole numbers")
    if x.ndim <= axis:
        raise fail(npz.file, f'key "{key}": "{x_key}" has no time axis (shape {list(x.shape)})')
    steps = x.shape[axis]
    bad = (values < 1) | (values > steps)
    if bad.any():
        i = int(np.argmax(bad))
        raise loc.error(
            i,
            key,
            f'length {values[i]} is out of range 1..{steps} (the time axis of "{x_key}" has {steps} steps)',
        )
    return values


def _step_mask(target: np.ndarray, lengths: np.ndarray | None, steps: int) -> np.ndarray | None:
    """Per-step labels (N, T, ...): only steps below each length are real."""
    if lengths is None or target.ndim < 2 or target.shape[1] != steps:
        return None
    mask = np.arange(steps)[None, :] < lengths[:, None]
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (target.ndim - 2)), target.shape)


def _from_npz(path: Path, file: str, spec: Spec, mode: str, dtype, progress) -> Examples:
    data = spec.data
    task = spec.train.task
    with NpzArrays(path, file) as npz:
        if data.series is not None:
            loc = Locator(file, key=data.series)
            values = as_numbers(npz.get(data.series, "data.series"), loc, data.series).reshape(-1)
            return _series_examples(values, spec, file, mode)
        x_loc = Locator(file, key=data.x_key)
        x_arr = npz.get(data.x_key, "data.x_key")
        x = as_numbers(x_arr, x_loc, data.x_key, dtype, progress)
        if spec.model.input_dtype == "int64":
            x = as_int64(x_arr if x_arr.dtype.kind in "iub" else x, x_loc, None, data.x_key)
        x = apply_reshape(x, data.reshape, file)
        axis = time_axis(spec.model.input_shape)
        lengths = None
        if data.lengths_key is not None:
            lengths = _npz_lengths(npz, data.lengths_key, x, axis, data.x_key)
        key = npz_target_key(spec)
        target, valid, target_lengths = None, None, None
        if mode != "predict" or npz.has(key):
            raw = npz.get(key, "data.target")
            if raw.shape[0] != x.shape[0]:
                raise fail(
                    file,
                    f'"{data.x_key}" has {x.shape[0]} examples but "{key}" has {raw.shape[0]}; '
                    "they must have the same length",
                )
            loc = Locator(file, key=key)
            if data.target_lengths_key is not None:
                target_lengths = _npz_lengths(npz, data.target_lengths_key, raw, 1, key, "data.target_lengths_key")
            if task == "classification":
                target = label_texts(raw, loc, key)
                valid = _step_mask(target, lengths, x.shape[axis] if x.ndim > axis else -1)
                if target_lengths is not None:
                    valid = _step_mask(target, target_lengths, raw.shape[1])
            else:
                target = as_numbers(raw, loc, key)
                if target.ndim == 1:
                    target = target[:, None]
            shape = raw.shape
            where = (
                (lambda i: int(i))
                if len(shape) == 1
                else (lambda i: tuple(int(v) for v in np.unravel_index(i, shape)))
            )
    if target is None:
        return Examples(file, x, lengths, None, None, x_loc, lambda i: int(i))
    return Examples(file, x, lengths, target, key, loc, where, valid, target_lengths=target_lengths)


def _from_npy(path: Path, file: str, spec: Spec, mode: str, dtype, targets: Path | None, progress) -> Examples:
    if mode != "predict" and targets is None:
        raise fail(
            file, "a .npy file holds inputs only; evaluation needs targets (use .csv or .npz)"
        )
    arr = read_npy(path, file)
    loc = Locator(file, key=None)
    x = as_numbers(arr, loc, None, dtype, progress)
    if spec.model.input_dtype == "int64":
        x = as_int64(np.asarray(x, dtype=np.float64), loc, None, None)
    per = len(spec.model.input_shape) if spec.data.reshape is None else 1
    if x.ndim == per:  # one example without the batch axis
        x = x[None]
    x = apply_reshape(x, spec.data.reshape, file)
    if targets is None:
        return Examples(file, x, None, None, None, loc, lambda i: int(i))
    y_file = display_name(targets)
    raw = read_npy(targets, y_file)
    if raw.shape[0] != x.shape[0]:
        raise fail(y_file, f"holds {raw.shape[0]} targets but {file} has {x.shape[0]} examples; "
                   "they must have the same length")  # fmt: skip
    y_loc = Locator(y_file, key=None)
    if spec.train.task == "classification":
        target = label_texts(np.asarray(raw), y_loc, None)
    else:
        target = as_numbers(np.asarray(raw), y_loc, None)
        target = target[:, None] if target.ndim == 1 else target
    shape = raw.shape
    where = (lambda i: int(i)) if len(shape) == 1 else (lambda i: tuple(int(v) for v in np.unravel_index(i, shape)))
    return Examples(file, x, None, target, None, y_loc, where)


def read_examples(
    path: Path, spec: Spec, mode: str, feature_names: list[str] | None = None,
    dtype=np.float64, progress=None, targets: Path | None = None,
) -> Examples:
    """The examples in `path`: inputs as `dtype` (int64 for token ids), reshaped by
    data.reshape (applied to each reader's flat examples, series windows included) and checked
    against model.input_shape."""
    if spec.data is None:
        raise fail(
            str(path), "the spec has no [data] table, so netspec does not know how to read data"
        )
    file = display_name(path)
    if spec.data.series is not None and spec.train.task != "regression":
        raise fail(
            file,
            f'data.series makes a forecasting (regression) task, but train.loss is "{spec.train.loss}"; '
            'use "mse" or "mae"',
        )
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet"):
        ex = _from_csv(path, file, spec, mode, feature_names, dtype, progress)
    elif suffix == ".npz":
        ex = _from_npz(path, file, spec, mode, dtype, progress)
    elif suffix == ".npy":
        ex = _from_npy(path, file, spec, mode, dtype, targets, progress)
    else:
        kinds = ".csv, .npz or .npy" if mode == "predict" else ".csv or .npz"
        raise fail(file, f"unsupported file type {suffix or '(no extension)'!r}; expected {kinds}")
    check_input_shape(ex.x, spec.model.input_shape, file, spec.data.reshape is not None)
    if spec.model.input_dtype == "int64":
        _check_token_ids(ex, spec)
    return ex


def _check_token_ids(ex: Examples, spec: Spec) -> None:
    """Token ids must index the embedding table: 0 <= id < vocab_size (a negative id would
    silently read from the end of the table, a large one would crash)."""
    vocab = min((ly.vocab_size for ly in spec.model.layers if ly.type == "embedding"), default=None)
    if vocab is None or not ex.x.size:
        return
    bad = (ex.x < 0) | (ex.x >= vocab)
    if ex.lengths is not None and ex.x.ndim >= 2:  # padding beyond each length is never read
        bad &= (np.arange(ex.x.shape[1]) < ex.lengths[:, None]).reshape(bad.shape[:2] + (1,) * (bad.ndim - 2))
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise fail(ex.file, f"example {at[0]}" + (f" at {list(at[1:])}" if len(at) > 1 else "")
                   + f": token id {int(ex.x[at])} is outside the embedding's vocabulary 0..{vocab - 1}")  # fmt: skip
