"""Standardization: x -> (x - mean) / std, fitted on the train split only.

`mean` and `std` are float64 arrays shaped like one example, except that axes which are not
fitted per position have size 1 and broadcast:
- tabular / image inputs: one mean and std per input element (mean over the train examples,
  i.e. axis 0 of x_train); shape = the per-example shape;
- inputs with named dims (`["time", 8]`): statistics are shared along every named axis (so a
  model that takes any sequence length gets one mean per feature); those axes have size 1; padded
  steps (beyond each example's length) are left out of the fit;
- time series windows (`data.series`): one scalar mean and std over all train windows (shape
  (window, 1) -> (1, 1)); the targets are scaled with the same two numbers by
  `target_scaling.py` (training only; predictions are mapped back to the series' units).
A std of 0 (a constant input) is stored as 1, so the stored arrays can be used as is (the ONNX
export emits `Sub(mean)` then `Div(std)` with them). int64 inputs are never standardized.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CheckpointError


@dataclass
class Standardizer:
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        self.std = np.where((std == 0) | ~np.isfinite(std), 1.0, std)

    @classmethod
    def fit(
        cls, x, axes: tuple[int, ...] = (0,), mask: np.ndarray | None = None,
        chunk_bytes: int = 32 << 20,
    ) -> Standardizer:  # fmt: skip
        """Mean and (population) std of x over `axes` (which include 0, the example axis),
        counting only entries where `mask` (broadcastable to x) is true.

        x may be an array, a memory map or `Rows`: it is read `chunk_bytes` of float64 at a time
        and the chunks' means and squared deviations are merged (Chan et al.) in float64, so
        memory stays bounded and the result does not depend on where x lives."""
        n = x.shape[0]
        per = max(1, int(np.prod(x.shape[1:], dtype=np.int64)) * 8)
        step = max(1, chunk_bytes // per)
        count = mean = m2 = None
        for start in range(0, n, step):
            xc = np.asarray(x[start : start + step], dtype=np.float64)
            if mask is None:
                cb = np.full([1 if a in axes else s for a, s in enumerate(xc.shape)],
                             float(np.prod([xc.shape[a] for a in axes])))  # fmt: skip
                mb = xc.mean(axis=axes, keepdims=True)
                m2b = ((xc - mb) ** 2).sum(axis=axes, keepdims=True)
            else:
                mk = mask[start : start + step] if mask.shape[0] == n and n > 1 else mask
                w = np.broadcast_to(mk, xc.shape).astype(np.float64)
                cb = w.sum(axis=axes, keepdims=True)
                mb = (xc * w).sum(axis=axes, keepdims=True) / np.maximum(cb, 1.0)
                m2b = (((xc - mb) ** 2) * w).sum(axis=axes, keepdims=True)
            if count is None:
                count, mean, m2 = cb, mb, m2b
                continue
            total = count + cb
            safe = np.maximum(total, 1.0)
            delta = mb - mean
            mean = mean + delta * (cb / safe)
            m2 = m2 + m2b + delta**2 * (count * cb / safe)
            count = total
        var = m2 / np.maximum(count, 1.0)
        return cls(mean[0], np.sqrt(var)[0])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std in the dtype of x (float32 unless x is float64)."""
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return ((x - self.mean) / self.std).astype(dtype, copy=False)

    def to_dict(self) -> dict:
        """JSON-serializable: {"shape": [...], "mean": nested lists, "std": nested lists}."""
        return {
            "shape": list(self.mean.shape),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Standardizer:
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            std = np.asarray(data["std"], dtype=np.float64)
            shape = tuple(data.get("shape", mean.shape))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"standardizer: expected mean and std lists ({exc})") from None
        if mean.shape != shape or std.shape != shape:
            raise CheckpointError(
                f"standardizer: mean {list(mean.shape)} and std {list(std.shape)} must both have shape {list(shape)}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std <= 0).any():
            raise CheckpointError("standardizer: mean must be finite and std finite and > 0")
        return cls(mean, std)
