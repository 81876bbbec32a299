"""Mini-batch index streams."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def iterate_batches(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays of at most `batch_size` covering 0..n-1 once: a permutation drawn from `rng`
    when given, else in order. The last, partial batch is included."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
