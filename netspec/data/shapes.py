"""Per-example shapes: `data.reshape`, the match with `model.input_shape` (named dims such as
"time" match any size), the time axis of sequence data, and int64 (token id) inputs."""

from __future__ import annotations

import math

import numpy as np

from .source import Locator, fail


def _show(shape) -> str:
    return "[" + ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in shape) + "]"


def apply_reshape(x: np.ndarray, reshape: list[int] | None, file: str) -> np.ndarray:
    """Reshape each example's values to `reshape` (row-major, like numpy)."""
    if reshape is None:
        return x
    per = int(math.prod(x.shape[1:]))
    want = int(math.prod(reshape))
    if per != want:
        raise fail(
            file,
            f"data.reshape {_show(reshape)} holds {want} values per example, "
            f"but each example has {per} input values",
        )
    return x.reshape((x.shape[0], *reshape))


def check_input_shape(x: np.ndarray, input_shape: list, file: str, reshaped: bool) -> None:
    """x is (N, *per_example) and must match `model.input_shape`; named dims match any size."""
    per = x.shape[1:]
    ok = len(per) == len(input_shape) and all(
        isinstance(d, str) or d == n for d, n in zip(input_shape, per, strict=False)
    )
    if ok:
        return
    fixed = all(isinstance(d, int) for d in input_shape)
    need = int(math.prod(input_shape)) if fixed else None
    if len(per) == 1:
        got = f"the data has {per[0]} features per example"
    else:
        got = f"the data has examples of shape {_show(per)} ({int(math.prod(per))} values)"
    takes = f" ({need} values)" if need is not None and len(input_shape) > 1 else ""
    msg = f"{got} but model.input_shape is {_show(input_shape)}{takes}"
    if need is not None and need == int(math.prod(per)) and not reshaped:
        msg += f"; add `reshape = {_show(input_shape)}` to [data]"
    elif need is not None and len(per) == 1 and len(input_shape) == 1:
        msg += f"; select {input_shape[0]} columns with data.features or change model.input_shape"
    raise fail(file, msg)


def time_axis(input_shape: list) -> int:
    """Axis of x (batch axis 0) that holds the steps of a sequence: the first named dim of
    input_shape, else axis 1."""
    for k, d in enumerate(input_shape):
        if isinstance(d, str):
            return k + 1
    return 1


def symbolic_axes(input_shape: list) -> tuple[int, ...]:
    """Axes of x (batch axis 0) whose size is a name in input_shape."""
    return tuple(k + 1 for k, d in enumerate(input_shape) if isinstance(d, str))


_TOKEN_IDS = 'model.input_dtype is "int64" (token ids), so inputs must be whole numbers'


def as_int64(
    values: np.ndarray,
    loc: Locator,
    columns: list[str] | None,
    key: str | None,
    rule: str = _TOKEN_IDS,
) -> np.ndarray:
    """Values that must be whole numbers (token ids for model.input_dtype = "int64", lengths)."""
    if values.dtype.kind in "biu":
        return values.astype(np.int64)
    bad = values != np.round(values)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        column = columns[at[1]] if columns is not None and len(at) > 1 else key
        where = at[0] if columns is not None else at
        raise loc.error(
            where,
            column,
            f"{rule}, got {values[at]:g}",
        )
    return values.astype(np.int64)
