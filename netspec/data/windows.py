"""Time series -> examples: sliding windows over one column.

Window i covers steps i .. i+window-1; its target is the value `horizon` steps after the
window's last step, v[i + window - 1 + horizon]. A series of L values gives L - window - horizon
+ 1 examples; x is (n, window, 1) and y is (n, 1).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .source import fail


def make_windows(values: np.ndarray, window: int, horizon: int, file: str, column: str):
    """(x (n, window, 1), y (n, 1)) as float64 copies."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    n = values.size - window - horizon + 1
    if n < 1:
        raise fail(
            file,
            f'series "{column}" has {values.size} values, but window {window} + horizon {horizon} '
            f"needs at least {window + horizon}; lower data.window or add data",
        )
    x = sliding_window_view(values, window)[:n].copy()
    y = values[window - 1 + horizon : window - 1 + horizon + n].copy()
    return x[:, :, None], y[:, None]


def all_windows(values: np.ndarray, window: int, file: str, column: str) -> np.ndarray:
    """Every full window (the last one ends at the last value), for forecasting: (n, window, 1)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size < window:
        raise fail(file, f'series "{column}" has {values.size} values, but a window needs {window}')
    return sliding_window_view(values, window).copy()[:, :, None]
