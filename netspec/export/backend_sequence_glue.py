"""The structural ops of sequence exports, as conformance-backend handlers (see backend_glue.py):
the padded-step mask (Shape, Gather, Range, Cast, Unsqueeze, Less, Where), `repeat` (Expand),
the lstm state split (Slice, Split). Each is NumPy's own primitive; ONNX's node tests check
that the semantics the exporter relies on are the ones implemented here."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .backend import handles, unsupported


@handles("Shape")
def _shape(a, xs, n):
    dims = np.asarray(xs[0].shape, dtype=np.int64)
    r = len(dims)
    start, end = a.get("start", 0), a.get("end", r)
    start, end = (max(0, min(r, v + r if v < 0 else v)) for v in (start, end))
    return [dims[start:end]]


@handles("Cast")
def _cast(a, xs, n):
    try:
        dtype = helper.tensor_dtype_to_np_dtype(a["to"])
    except (KeyError, TypeError):
        unsupported(f"Cast to {a.get('to')}")
    if dtype.kind not in "fiub" or dtype.itemsize < 4 or xs[0].dtype.kind not in "fiub":
        unsupported(f"Cast from {xs[0].dtype} to {dtype}")
    return [xs[0].astype(dtype)]


@handles("Range")
def _range(a, xs, n):
    start, limit, delta = (np.asarray(v).item() for v in xs[:3])
    return [np.arange(start, limit, delta, dtype=np.asarray(xs[0]).dtype)]


@handles("Less")
def _less(a, xs, n):
    return [np.less(xs[0], xs[1])]


@handles("Where")
def _where(a, xs, n):
    return [np.where(xs[0], xs[1], xs[2])]


@handles("Unsqueeze")
def _unsqueeze(a, xs, n):
    axes = xs[1] if a["_opset"] >= 13 else a["axes"]
    x = xs[0]
    rank = x.ndim + len(axes)
    for ax in sorted(int(v) % rank for v in np.asarray(axes).reshape(-1)):
        x = np.expand_dims(x, ax)
    return [x]


@handles("Expand")
def _expand(a, xs, n):
    shape = np.broadcast_shapes(xs[0].shape, tuple(int(v) for v in xs[1]))
    return [np.broadcast_to(xs[0], shape).copy()]


@handles("Slice")
def _slice(a, xs, n):
    x = xs[0]
    starts, ends = xs[1], xs[2]
    axes = xs[3] if len(xs) > 3 and xs[3] is not None else np.arange(len(starts))
    steps = xs[4] if len(xs) > 4 and xs[4] is not None else np.ones(len(starts), np.int64)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        dim = x.shape[int(ax)]
        s, e, st = int(s), int(e), int(st)
        if st > 0:
            s = min(max(s + dim if s < 0 else s, 0), dim)
            e = min(max(e + dim if e < 0 else e, 0), dim)
        else:
            s = min(max(s + dim if s < 0 else s, -1), dim - 1)
            e = min(max(e + dim if e < 0 else e, -1), dim - 1)
            e = None if e < 0 else e
        index[int(ax)] = slice(s, e, st)
    return [x[tuple(index)]]


@handles("Split")
def _split(a, xs, n):
    x, axis = xs[0], a.get("axis", 0)
    split = xs[1] if len(xs) > 1 and xs[1] is not None else a.get("split")
    if split is None:
        parts = a.get("num_outputs", n)
        size = -(-x.shape[axis] // parts)
        split = [min(size, x.shape[axis] - k * size) for k in range(parts)]
    return list(np.split(x, np.cumsum(np.asarray(split, dtype=np.int64))[:-1], axis=axis))
