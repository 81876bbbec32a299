"""`[data.augment]`: random flips and small shifts of image training batches.

Applied to each training batch only (never to val/test, eval or predict), after
standardization, from a generator of its own seeded by the spec's `seed` (so runs are
reproducible and resume bit-identically). A shift moves the image by up to `shift` pixels each
way; the uncovered border is 0 (the channel mean after standardization, black without it).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = img[..., ys, xs]
    return out


def make_augment(cfg):
    """A function (x (N, C, H, W), rng) -> augmented copy, or None when nothing is enabled."""
    if not (cfg.flip_horizontal or cfg.flip_vertical or cfg.shift):
        return None

    def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if x.ndim != 4:
            raise DataError(f"data.augment flips and shifts images: it needs batches of shape (N, channels, "
                            f"height, width), got {list(x.shape)}")  # fmt: skip
        x = x.copy()
        n = len(x)
        flips_h = rng.random(n) < 0.5 if cfg.flip_horizontal else np.zeros(n, bool)
        flips_v = rng.random(n) < 0.5 if cfg.flip_vertical else np.zeros(n, bool)
        x[flips_h] = x[flips_h][..., ::-1]
        x[flips_v] = x[flips_v][..., ::-1, :]
        if cfg.shift:
            d = rng.integers(-cfg.shift, cfg.shift + 1, size=(n, 2))
            for i in np.flatnonzero(d.any(axis=1)):
                x[i] = _shift(x[i], int(d[i, 0]), int(d[i, 1]))
        return x

    return augment
