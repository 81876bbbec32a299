"""Line charts and the confusion matrix: learning curves, gradient norms per epoch (matplotlib).

Inputs are plain data (history rows, counts), so the drawing is separate from reading runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .mpl import figure, save


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _series(rows: list[dict], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r.get(key) not in (None, "") else np.nan for r in rows])


def curves(rows: list[dict], path: Path, best_epoch: int | None = None, title: str = "") -> dict:
    """Loss and every metric per epoch (train solid, validation dashed), the best epoch marked
    with a vertical line, and the learning rate on a second axis when it changes."""
    epochs = _series(rows, "epoch")
    skip = {"epoch", "lr", "seconds"}
    names = [k for k in rows[0] if k not in skip and not k.startswith("val_")]
    names += [k.removeprefix("val_") for k in rows[0] if k.startswith("val_") and k.removeprefix("val_") not in names]
    fig = figure(300 * math.ceil(len(names) / 2) + 60)
    cols = 1 if len(names) == 1 else 2
    axes = fig.subplots(math.ceil(len(names) / cols), cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        for key, style, label in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
            if key in rows[0]:
                ax.plot(epochs, _series(rows, key), style, marker="o", markersize=3, label=label)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        _integer_epochs(ax)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if name == "loss" and "lr" in rows[0] and len(set(_series(rows, "lr"))) > 1:
            lr_ax = ax.twinx()
            lr_ax.plot(epochs, _series(rows, "lr"), color="tab:green", alpha=0.6, label="learning rate")
            lr_ax.set_ylabel("learning rate", color="tab:green")
            lr_ax.legend(loc="center right", fontsize="small")
        ax.legend(fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title or "learning curves")
    fig.tight_layout()
    return save(fig, path)


def gradient_norms(rows: list[dict], path: Path, title: str = "") -> dict:
    """Per-layer weight-gradient norms and the global norm per epoch, on a log scale."""
    epochs = _series(rows, "epoch")
    layers = [k for k in rows[0] if k not in ("epoch", "global")]
    fig = figure(500)
    ax = fig.subplots()
    for k, name in enumerate(layers):
        shade = 0.15 + 0.7 * k / max(1, len(layers) - 1)
        ax.plot(epochs, _series(rows, name), marker="o", markersize=3, color=(shade, 0.2, 1 - shade), label=name)
    ax.plot(epochs, _series(rows, "global"), "k--", label="global (before clipping)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    _integer_epochs(ax)
    ax.set_ylabel("gradient norm (mean over steps)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", ncol=2)
    ax.set_title(title or "gradient norms per layer (first layer blue, last red)")
    fig.tight_layout()
    return save(fig, path)


def confusion(names: list[str], counts: np.ndarray, path: Path, title: str = "") -> dict:
    """Counts in every cell, shaded by the row-normalized fraction (recall per true class)."""
    counts = np.asarray(counts)
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig = figure(700)
    ax = fig.subplots()
    image = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    n = len(names)
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize="small",
                    color="white" if frac[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    return save(fig, path)
