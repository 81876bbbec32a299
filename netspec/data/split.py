"""Train / val / test split sizes and index sets.

Sizes: n_test = round(N * test), n_val = round(N * val) (Python's round: halves go to the even
number), train gets the rest. The order is a permutation drawn from
`np.random.default_rng(np.random.SeedSequence([seed, 1]))`, a stream of its own so that changing
anything else random (init, dropout, shuffling) never changes the split; with `ordered_split` (and
always for time series) the file order is kept: train first, then val, then test.
"""

from __future__ import annotations

import numpy as np

from .source import fail


def split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    n_test = round(n * test)
    n_val = round(n * val)
    return n - n_val - n_test, n_val, n_test


def split_indices(
    n: int, val: float, test: float, seed: int, ordered: bool, file: str, what: str = "examples"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, val, test); an empty train split is an error."""
    n_train, n_val, n_test = split_sizes(n, val, test)
    if n_train <= 0:
        raise fail(
            file,
            f"{n} {what} split as train {max(n_train, 0)} / val {n_val} / test {n_test} "
            "leaves the train split empty; add data or lower data.split.val / data.split.test",
        )
    if ordered:
        order = np.arange(n)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        order = rng.permutation(n)
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
