"""`netspec plot RUN --kind ...`: read a run folder and draw one PNG (matplotlib via the `plots`
extra, imported only when drawing).

    curves      loss and metrics per epoch, best epoch marked, learning rate when it changes
    confusion   confusion matrix of a split (class names, counts, row-normalized shading)
    filters     first conv layer's (or a named conv/dense layer's) filters, each w / ||w||
    features    a named layer's feature maps for one example of a split
    maximize    inputs maximizing chosen units of a layer (default: the last conv layer, else the
                output logits) by gradient ascent with an L2 penalty
    gradients   per-layer weight-gradient norms per epoch (gradients.csv)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, NetspecError

KINDS = ("curves", "confusion", "filters", "features", "maximize", "gradients")


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file (the run has not finished an epoch, or it predates {path.name})")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise CheckpointError(f"{path}: no epochs recorded")
    return rows


def _best_epoch(run: Path) -> int | None:
    try:
        return json.loads((run / "result.json").read_text()).get("best_epoch")
    except (OSError, ValueError):
        return None


def _default_layer(model, ops: tuple[str, ...], last: bool = False) -> str:
    """The first (or last) layer with one of `ops`; else the output's logits (last=True) or the
    first layer."""
    found = [n.layer for n in model.graph.nodes if n.op in ops]
    if found:
        return found[-1] if last else found[0]
    out = model.graph.node(model.graph.output)
    return out.inputs[0] if last and out.op in ("softmax", "sigmoid") else model.graph.nodes[0].layer


def _example(model, split: str, index: int) -> np.ndarray:
    data = model.split(split)
    if not 0 <= index < len(data.x):
        raise NetspecError(f"--example {index} is out of range: the {split} split has {len(data.x)} examples")
    return data.x[index : index + 1]


def _feature_maps(model, layer: str, x: np.ndarray, path: Path) -> dict:
    from . import grids

    y = model.activations(x, layers=[layer])[layer][0]
    title = f"feature maps of {layer} {tuple(y.shape)} for one example"
    if y.ndim == 1:
        return grids.bars(y, path, title)
    if model.graph.node(layer).features_last:  # (time, features): one row of steps per feature
        y = y.T
    maps = [y[c] for c in range(len(y))]
    return grids.tiles(maps, [str(c) for c in range(len(maps))], path, title, rescale=True, cmap="viridis")


def _maximized(model, layer: str, units: list[int] | None, path: Path, seed: int) -> dict:
    from . import grids
    from .maximize import maximize

    node = model.graph.node(layer) if layer in [n.name for n in model.graph.nodes] else None
    if node is None:
        raise NetspecError(f"no layer named {layer!r} (layers: {', '.join(n.name for n in model.graph.nodes)})")
    n_units = node.shape[-1] if node.features_last else node.shape[1]
    units = units if units is not None else list(range(min(16, n_units)))
    x = maximize(model, layer, units, seed=seed)
    shape = model.graph.input_shape[1:]
    title = f"inputs that maximize units of {layer}"
    if len(shape) == 1:  # a flat input: square when it is one (the digits' 64 pixels)
        from .filters import square_side

        side = square_side(shape[0])
        if not side:  # plain features: one row per unit
            names = model.feature_names or [str(i) for i in range(shape[0])]
            return grids.heatmap(x, [f"unit {u}" for u in units], names, path, title)
        x = x.reshape(len(x), 1, side, side)
    elif len(shape) == 2 and model.graph.nodes[0].features_last:  # sequences (time, features)
        if shape[1] == 1:  # one series: a row of time steps per unit
            steps = [str(t) for t in range(shape[0])]
            return grids.heatmap(x[..., 0], [f"unit {u}" for u in units], steps, path, title, "time step")
        x = np.transpose(x, (0, 2, 1))[:, None]  # one (features, time) tile per unit
    images = [np.transpose(v, (1, 2, 0)) if v.shape[0] == 3 else v[0] for v in x]
    return grids.tiles(images, [f"unit {u}" for u in units], path, title, rescale=True)


def plot_run(run: str | Path, kind: str = "curves", out: str | Path | None = None, *, layer: str | None = None,
             units: list[int] | None = None, split: str = "test", example: int = 0, seed: int = 0) -> dict:  # fmt: skip
    """Draw one picture of a trained run; returns {"path", "width", "height", "kind"}. The default
    file is <run>/<kind>.png."""
    if kind not in KINDS:
        raise NetspecError(f"unknown plot kind {kind!r}; one of: {', '.join(KINDS)}")
    from ..api import load_run
    from . import charts, grids

    model = load_run(run)
    run = Path(model.run_dir)
    path = Path(out) if out is not None else run / f"{kind}.png"
    name = model.spec.name
    if kind == "curves":
        info = charts.curves(_rows(run / "metrics.csv"), path, _best_epoch(run), f"{name}: learning curves")
    elif kind == "gradients":
        info = charts.gradient_norms(_rows(run / "gradients.csv"), path, f"{name}: gradient norms per layer")
    elif kind == "confusion":
        if model.task != "classification":
            raise NetspecError(f"{name} is a regression model: a confusion matrix needs classes")
        from .confusion import confusion_of

        names, counts = confusion_of(model, model.split(split))
        info = charts.confusion(names, counts, path, f"{name}: confusion matrix ({split} split)")
    elif kind == "filters":
        from .filters import filter_images

        lname, images, labels = filter_images(model, layer)
        info = grids.tiles(images, labels, path, f"{name}: filters of {lname} (w / ||w||, grey = 0)")
    elif kind == "features":
        info = _feature_maps(model, layer or _default_layer(model, ("conv",)), _example(model, split, example), path)
    else:
        info = _maximized(model, layer or _default_layer(model, ("conv",), last=True), units, path, seed)
    return {**info, "kind": kind}
