"""Classification labels -> class indices, and the class names kept with the model.

Labels may be integers or strings. Class names are strings, sorted numerically when every label
is a whole number (`"2" < "10"`; `"1.0"` and `"1"` are the same class `"1"`), else
lexicographically; a label's class index is its position in the class names. For
binary_cross_entropy there must be exactly two classes and the positive one (target 1.0) is the
second name, which is `"1"` for 0/1 labels.
"""

from __future__ import annotations

import math

import numpy as np

from .source import Locator, name_list, quote


def _integer_name(text: str) -> str | None:
    """`"3"`, `" 3 "`, `"3.0"` -> `"3"`; None when `text` is not a whole number."""
    try:
        return str(int(text))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return None


def _is_integer_names(names: list[str]) -> bool:
    return bool(names) and all(_integer_name(n) == n for n in names)


def label_texts(arr: np.ndarray, loc: Locator, key: str) -> np.ndarray:
    """An NPZ label array as strings (bool/int/whole floats/str); other values are errors.

    Integers keep their exact value (uint64 above 2**63 is not wrapped to a negative name);
    byte strings must be UTF-8, so two different byte labels never merge into one class."""
    kind = arr.dtype.kind
    arr = np.asarray(arr)
    if kind in "biu":  # names of the distinct values only: the array is as wide as the longest name
        uniq, inverse = np.unique(arr.astype(np.int64) if kind == "b" else arr, return_inverse=True)
        return uniq.astype(str)[inverse.reshape(arr.shape)]
    if kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise loc.error(
                at, key, f"classification labels must be whole numbers or strings, got {arr[at]}"
            )
        uniq, inverse = np.unique(arr, return_inverse=True)
        names = np.array([str(int(v)) for v in uniq.tolist()] or [""], dtype=str)
        return names[inverse.reshape(arr.shape)]
    if kind == "S":
        try:
            return np.char.decode(arr, "utf-8", errors="strict").astype(str)
        except UnicodeDecodeError:
            for at in np.ndindex(arr.shape):
                try:
                    bytes(arr[at]).decode("utf-8")
                except UnicodeDecodeError:
                    where = at if len(at) > 1 else at[0]
                    raise loc.error(where, key, f"label {bytes(arr[at])!r} is not UTF-8 text; save labels "
                                    "as UTF-8 strings or integers") from None  # fmt: skip
    if kind == "U":
        return arr
    raise loc.error(None, key, f"unsupported label dtype {arr.dtype}")


def _stripped(flat: np.ndarray) -> np.ndarray:
    """Stripped label strings; object arrays (CSV cells) stay object arrays, so one very long
    cell never turns into a fixed-width copy of every label."""
    if flat.dtype.kind == "O":
        out = np.empty(flat.size, dtype=object)
        out[:] = [str(t).strip() for t in flat]
        return out
    return np.char.strip(flat.astype(str, copy=False))


class LabelEncoder:
    """Turns label texts into class indices, inferring or checking the class names.

    `texts` is an array of label strings, one per example (CSV) or per example and step (NPZ
    sequences); `where(flat_index)` gives the Locator index used in error messages.
    """

    def __init__(self, loc: Locator, column: str, where=None):
        self.loc = loc
        self.column = column
        self.where = where or (lambda i: int(i))

    def _error(self, flat: int, message: str):
        return self.loc.error(self.where(flat), self.column, message)

    def _unique(self, texts: np.ndarray, valid: np.ndarray | None):
        flat = _stripped(np.asarray(texts).reshape(-1))
        positions = np.arange(flat.size) if valid is None else np.flatnonzero(valid.reshape(-1))
        values = flat[positions]
        uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        if uniq.size and uniq[0] == "":
            raise self._error(int(positions[first[0]]), "empty cell, expected a class label")
        return flat.size, positions, uniq, first, inverse

    def fit(self, texts: np.ndarray, valid: np.ndarray | None = None):
        """Infer class names; returns (indices with the shape of `texts`, class_names)."""
        size, positions, uniq, first, inverse = self._unique(texts, valid)
        ints = [_integer_name(u) for u in uniq]
        if all(n is not None for n in ints):
            names = [str(v) for v in sorted({int(n) for n in ints})]
            per_uniq = ints
        else:
            names = sorted(str(u) for u in uniq)
            per_uniq = [str(u) for u in uniq]
        lut = np.array([names.index(n) for n in per_uniq], dtype=np.int64)
        out = np.zeros(size, dtype=np.int64)
        out[positions] = lut[inverse]
        self._positions, self._first_by_class = positions, {}
        for k, u in enumerate(uniq):
            c = int(lut[k])
            pos = int(positions[first[k]])
            self._first_by_class[c] = min(pos, self._first_by_class.get(c, pos))
        return out.reshape(np.shape(texts)), names

    def apply(self, texts: np.ndarray, class_names: list[str], valid: np.ndarray | None = None):
        """Indices for known class names; a label not seen in training is a located error."""
        size, positions, uniq, first, inverse = self._unique(texts, valid)
        integer = _is_integer_names(class_names)
        index = {n: i for i, n in enumerate(class_names)}
        lut = np.empty(len(uniq), dtype=np.int64)
        unseen = []
        for k, u in enumerate(uniq):
            name = (_integer_name(str(u)) or str(u)) if integer else str(u)
            if name in index:
                lut[k] = index[name]
            else:
                unseen.append(k)
        if unseen:
            k = min(unseen, key=lambda j: first[j])
            raise self._error(
                int(positions[first[k]]),
                f"label {quote(str(uniq[k]))} was not seen in training "
                f"(classes: {name_list(class_names)})",
            )
        out = np.zeros(size, dtype=np.int64)
        out[positions] = lut[inverse]
        return out.reshape(np.shape(texts))

    def check_binary(self, indices: np.ndarray, names: list[str]) -> None:
        """binary_cross_entropy needs exactly two classes."""
        if len(names) == 2:
            return
        found = f"found {len(names)}: {name_list(names)}"
        if len(names) < 2:
            raise self.loc.error(
                None, self.column, f"binary_cross_entropy needs exactly 2 classes, {found}"
            )
        order = sorted(self._first_by_class.items(), key=lambda kv: kv[1])
        cls, pos = order[2]
        raise self._error(
            pos,
            f"binary_cross_entropy needs exactly 2 classes, {found}; "
            f"the third, {quote(names[cls])}, first appears here",
        )

    def check_outputs(self, names: list[str], n_outputs: int) -> None:
        """cross_entropy: every class index must be < the model's output units."""
        if len(names) < n_outputs:
            raise self._error(
                0,
                f"the labels hold {len(names)} classes ({name_list(names)}) but the model has "
                f"{n_outputs} output units: set the last layer's units = {len(names)}, or list all "
                f"{n_outputs} class names in data.classes",
            )
        if len(names) == n_outputs:
            return
        cls = min(range(n_outputs, len(names)), key=lambda c: self._first_by_class[c])
        raise self._error(
            self._first_by_class[cls],
            f"label {quote(names[cls])} is class {cls} of {len(names)} ({name_list(names)}), "
            f"out of range for the model's {n_outputs} output units (class indices 0..{n_outputs - 1})",
        )
