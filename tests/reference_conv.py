"""Slow, obviously-correct conv and pool kernels (loops over output positions and kernel
offsets) for tests only: the fast kernels in netspec/kernels/conv.py and pool.py are compared
with these. Any spatial rank; x is (N, C, *spatial), pads ONNX order (begins..., ends...).
Every function returns the forward output and a backward closure dy -> gradients.
"""

from __future__ import annotations

import itertools

import numpy as np


def _out_sizes(spatial, kernel, strides, dilations, pads):
    nd = len(spatial)
    return tuple(
        (spatial[a] + pads[a] + pads[nd + a] - dilations[a] * (kernel[a] - 1) - 1) // strides[a] + 1
        for a in range(nd)
    )


def _window(o, kernel, strides, dilations, pads, spatial):
    """(kernel offset, input index) pairs of output position o that fall inside the input,
    in row-major offset order; padding positions are skipped."""
    out = []
    for k in itertools.product(*(range(n) for n in kernel)):
        idx = tuple(o[a] * strides[a] + k[a] * dilations[a] - pads[a] for a in range(len(o)))
        if all(0 <= idx[a] < spatial[a] for a in range(len(o))):
            out.append((k, idx))
    return out


def conv(x, w, b, strides, dilations, pads):
    """y[n, f, o] = b[f] + sum over c, k of w[f, c, k] * x[n, c, o*s + k*d - pad]."""
    spatial, kernel = x.shape[2:], w.shape[2:]
    out = _out_sizes(spatial, kernel, strides, dilations, pads)
    y = np.zeros((x.shape[0], w.shape[0], *out), dtype=x.dtype)
    positions = list(itertools.product(*(range(n) for n in out)))
    for o in positions:
        for k, idx in _window(o, kernel, strides, dilations, pads, spatial):
            y[(slice(None), slice(None), *o)] += (
                x[(slice(None), slice(None), *idx)] @ w[(slice(None), slice(None), *k)].T
            )
    if b is not None:
        y += b.reshape(-1, *([1] * len(out)))

    def backward(dy):
        dx, dw = np.zeros_like(x), np.zeros_like(w)
        for o in positions:
            g = dy[(slice(None), slice(None), *o)]  # (N, F)
            for k, idx in _window(o, kernel, strides, dilations, pads, spatial):
                wk = (slice(None), slice(None), *k)
                xi = (slice(None), slice(None), *idx)
                dx[xi] += g @ w[wk]
                dw[wk] += g.T @ x[xi]
        db = dy.sum(axis=tuple(a for a in range(dy.ndim) if a != 1))
        return dx, dw, db

    return y, backward


def pool(kind, x, kernel, strides, pads):
    """max or avg pool; avg divides by the number of non-padding elements; a max routes its
    gradient to the first maximum of the window (row-major)."""
    spatial, nd = x.shape[2:], len(kernel)
    out = _out_sizes(spatial, kernel, strides, (1,) * nd, pads)
    n, c = x.shape[:2]
    y = np.zeros((n, c, *out), dtype=x.dtype)
    routes = {}  # (n, c, *o) -> input index that gets the gradient (max) / all indices (avg)
    for i, j in itertools.product(range(n), range(c)):
        for o in itertools.product(*(range(m) for m in out)):
            idxs = [idx for _, idx in _window(o, kernel, strides, (1,) * nd, pads, spatial)]
            vals = [x[(i, j, *idx)] for idx in idxs]
            if kind == "max":
                best = int(np.argmax(vals))  # first maximum
                y[(i, j, *o)] = vals[best]
                routes[(i, j, *o)] = [idxs[best]]
            else:
                y[(i, j, *o)] = sum(vals) / len(vals)
                routes[(i, j, *o)] = idxs

    def backward(dy):
        dx = np.zeros_like(x)
        for key, idxs in routes.items():
            share = dy[key] if kind == "max" else dy[key] / len(idxs)
            for idx in idxs:
                dx[(key[0], key[1], *idx)] += share
        return dx

    return y, backward


def global_pool(kind, x, axes):
    """Reduce over `axes`; a max routes its gradient to the first maximum (row-major order of
    the pooled axes)."""
    keep = [a for a in range(x.ndim) if a not in axes]
    out_shape = tuple(x.shape[a] for a in keep)
    y = np.zeros(out_shape, dtype=x.dtype)
    routes = {}
    for o in np.ndindex(*out_shape):
        full = []
        for r in np.ndindex(*(x.shape[a] for a in axes)):
            idx = [0] * x.ndim
            for a, v in zip(keep, o):
                idx[a] = v
            for a, v in zip(axes, r):
                idx[a] = v
            full.append(tuple(idx))
        vals = [x[i] for i in full]
        if kind == "max":
            best = int(np.argmax(vals))
            y[o], routes[o] = vals[best], [full[best]]
        else:
            y[o], routes[o] = sum(vals) / len(vals), full

    def backward(dy):
        dx = np.zeros_like(x)
        for o, idxs in routes.items():
            for i in idxs:
                dx[i] += dy[o] if kind == "max" else dy[o] / len(idxs)
        return dx

    return y, backward


def conv_attrs(nd, filters, kernel, strides=1, dilations=1, pads=0, use_bias=True) -> dict:
    """Kernel attrs as the compiler resolves them (ints are per axis; pads ONNX order)."""

    def per(v, n):
        return (v,) * n if isinstance(v, int) else tuple(v)

    return {"nd": nd, "filters": filters, "kernel": per(kernel, nd), "strides": per(strides, nd),
            "dilations": per(dilations, nd), "padding": "explicit", "pads": per(pads, 2 * nd),
            "use_bias": use_bias, "init": "glorot_uniform"}  # fmt: skip


def pool_attrs(nd, kernel, strides=None, pads=0) -> dict:
    def per(v, n):
        return (v,) * n if isinstance(v, int) else tuple(v)

    strides = kernel if strides is None else strides
    return {"nd": nd, "kernel": per(kernel, nd), "strides": per(strides, nd), "padding": "explicit",
            "pads": per(pads, 2 * nd)}  # fmt: skip
