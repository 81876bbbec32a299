"""First-layer filters as images (the lecture's view: the input that excites a unit most, under
a norm constraint, is its weight vector normalized, w / ||w||)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import NetspecError

WEIGHTED = ("conv", "dense")
MIN_SIDE = 4  # a flat input of 16, 25, ... values may be a square image (64: the digits' pixels)


def square_side(n: int) -> int | None:
    """The side of a flat input shown as a square image, or None (4 iris features are not)."""
    side = math.isqrt(n)
    return side if side * side == n and side >= MIN_SIDE else None


def _weighted_node(graph, layer: str | None):
    nodes = [n for n in graph.nodes if n.op in WEIGHTED]
    if layer is None:
        convs = [n for n in nodes if n.op == "conv"]
        if convs or nodes:
            return (convs or nodes)[0]
        raise NetspecError("this model has no conv or dense layer to show filters of")
    for n in nodes:
        if layer in (n.name, n.layer):
            return n
    names = sorted({n.layer for n in nodes})
    raise NetspecError(f"no conv or dense layer named {layer!r} (conv/dense layers: {', '.join(names)})")


def _dense_rows_as_images(graph, node, w: np.ndarray) -> np.ndarray:
    """(units, C, H, W) from a dense weight (n_in, units) when its input is an image (or a flat
    input whose size is a square of side 4 or more, such as the 64 pixels of the digits)."""
    shape = tuple(graph.input_shape[1:])
    src = node.inputs[0]
    direct = src == graph.input_name or graph.node(src).op == "flatten" and graph.node(src).inputs[0] == graph.input_name
    n_in = w.shape[0]
    if direct and len(shape) == 3 and all(isinstance(d, int) for d in shape):
        return w.T.reshape(-1, *shape)
    side = square_side(n_in)
    if direct and len(shape) == 1 and side:
        return w.T.reshape(-1, 1, side, side)
    raise NetspecError(f"layer {node.layer!r} is a dense layer whose input is not image-shaped "
                       f"(input shape {tuple(shape)}): only its weights as numbers make sense")  # fmt: skip


def filter_images(model, layer: str | None = None) -> tuple[str, list[np.ndarray], list[str]]:
    """(layer name, tiles in [0, 1], tile labels). Each filter is scaled to unit norm, then all
    share one symmetric display range (mid-grey is 0). Three input channels make one RGB tile
    per filter; any other count one grey tile per filter and channel."""
    graph = model.graph
    node = _weighted_node(graph, layer)
    w = np.asarray(model.params[node.params["weight"].name], dtype=np.float64)
    if node.op == "dense":
        w = _dense_rows_as_images(graph, node, w)
    elif w.ndim == 3:  # conv1d (F, C, k): one row per channel
        w = w[:, :, None, :]
    norms = np.sqrt((w.reshape(len(w), -1) ** 2).sum(axis=1)).reshape(-1, 1, 1, 1)
    v = w / np.where(norms > 0, norms, 1.0)
    scale = np.abs(v).max() or 1.0
    v = 0.5 + 0.5 * v / scale
    tiles, labels = [], []
    for f in range(len(v)):
        if v.shape[1] == 3:
            tiles.append(np.transpose(v[f], (1, 2, 0)))
            labels.append(str(f))
        else:
            for c in range(v.shape[1]):
                tiles.append(v[f, c])
                labels.append(str(f) if v.shape[1] == 1 else f"{f}/c{c}")
    return node.layer, tiles, labels
