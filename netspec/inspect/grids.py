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
    """One tile per image ((H, W) grey or (H, W, 3) RGB, values in [0, 1]; all the same size),
    up to 8 per row; with rescale=True each tile is first stretched to its own min..max. The
    tiles are drawn as one mosaic image (one axes), which keeps drawing fast for many tiles."""
    from matplotlib import colormaps

    images, labels = images[:MAX_TILES], labels[:MAX_TILES]
    n = len(images)
    cols = min(8, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    h, w = images[0].shape[:2]
    gap = max(1, round(min(h, w) / 6))  # pale blue lines between tiles: no grey value looks like them
    mosaic = np.empty((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    mosaic[...] = (0.8, 0.87, 1.0)
    paint = colormaps[cmap]
    for k, img in enumerate(images):
        img = _unit_range(img) if rescale else np.clip(img, 0, 1)
        rgb = img if img.ndim == 3 else paint(img)[..., :3]
        r, c = divmod(k, cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = rgb
    if n % cols:  # the empty end of the last row stays white
        mosaic[(rows - 1) * (h + gap) - gap * (rows > 1) :, (n % cols) * (w + gap) - gap :] = 1.0
    height = grid_height(n)
    fig = figure(height)
    ax = fig.add_axes((0.01, 0.01, 0.98, 1 - 0.02 - TITLE_PX / height))
    ax.imshow(mosaic, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    if n <= 32:  # labels stay readable up to 4 rows of 8
        for k, label in enumerate(labels):
            r, c = divmod(k, cols)
            ax.text(c * (w + gap) + w / 2, r * (h + gap) - 0.5, label, ha="center", va="bottom", fontsize="small",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.7})  # fmt: skip
    fig.suptitle(title, y=1 - 0.35 * TITLE_PX / height)
    return save(fig, path)


def heatmap(values: np.ndarray, rows: list[str], cols: list[str], path: Path, title: str,
            xlabel: str = "input feature") -> dict:  # fmt: skip
    """A (rows, cols) matrix as a diverging heatmap with a colour bar (inputs that are not images)."""
    fig = figure(500)
    ax = fig.subplots()
    top = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="input value (standardized)")
    ax.set_yticks(range(len(rows)), rows)
    if len(cols) <= 40:
        ax.set_xticks(range(len(cols)), cols, rotation=45 if max(map(len, cols)) > 3 else 0, ha="right")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
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
