"""Image grids (filters, feature maps, maximizing inputs) and small per-unit charts (matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .mpl import WIDTH, figure, save

MAX_TILES = 64
TITLE_PX = 60


def grid_height(n: int) -> int:
    """The picture height for n tiles (square tiles, up to 8 per row, a title band on top)."""
    n = min(n, MAX_TILES)
    cols = min(8, max(1, math.ceil(math.sqrt(n))))
    return round(WIDTH / cols * math.ceil(n / cols)) + TITLE_PX


def _unit_range(tile: np.ndarray) -> np.ndarray:
    lo, hi = float(tile.min()), float(tile.max())
    return (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile) + 0.5


def tiles(images: list[np.ndarray], labels: list[str], path: Path, title: str,
          rescale: bool = False, cmap: str = "gray") -> dict:  # fmt: skip
    """One tile per image ((H, W) grey or (H, W, 3) RGB, values in [0, 1]); with rescale=True
    each tile is first stretched to its own min..max."""
    images, labels = images[:MAX_TILES], labels[:MAX_TILES]
    n = len(images)
    cols = min(8, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    height = grid_height(n)
    fig = figure(height)
    top = 1 - TITLE_PX / height
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"top": top, "bottom": 0.01, "left": 0.01,
                                                                "right": 0.99, "wspace": 0.08, "hspace": 0.25})  # fmt: skip
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, img, label in zip(axes.ravel(), images, labels):
        img = _unit_range(img) if rescale else np.clip(img, 0, 1)
        if img.ndim == 1:
            img = img[None, :]
        ax.imshow(img, cmap=None if img.ndim == 3 else cmap, vmin=0, vmax=1, interpolation="nearest",
                  aspect="equal" if img.shape[0] > 1 else "auto")
        ax.set_title(label, fontsize="small", pad=2)
    fig.suptitle(title, y=1 - 0.35 * TITLE_PX / height)
    return save(fig, path)


def bars(values: np.ndarray, path: Path, title: str) -> dict:
    """One bar per unit (a dense layer's activations for one example)."""
    fig = figure(400)
    ax = fig.subplots()
    ax.bar(np.arange(len(values)), values, color="tab:blue")
    ax.set_xlabel("unit")
    ax.set_ylabel("activation")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save(fig, path)
