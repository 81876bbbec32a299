"""Penalties and gradient clipping on the flat gradient buffer.

Penalty (added to the data loss, as Keras defines it): l1 * sum|w| + l2 * sum(w^2) over weights of
dense/conv/rnn/lstm/embedding layers (global + per-layer coefficients); biases and batch-norm
parameters are not penalized. Clipping: by value (each coordinate to [-v, v]) first, then the
global norm rescaled to at most clip_norm.
"""

from __future__ import annotations

import numpy as np


def add_penalty_grads(w: np.ndarray, g: np.ndarray, l1: np.ndarray | None, l2: np.ndarray | None, tmp: np.ndarray) -> None:
    if l2 is not None:
        np.multiply(w, l2, out=tmp)
        tmp *= 2
        g += tmp
    if l1 is not None:
        np.sign(w, out=tmp)
        tmp *= l1
        g += tmp


def clip(g: np.ndarray, clip_value: float | None, clip_norm: float | None) -> float:
    """Clip in place; returns the global gradient norm before norm clipping."""
    if clip_value is not None:
        np.clip(g, -clip_value, clip_value, out=g)
    if clip_norm is None:
        return float("nan")
    norm = float(np.sqrt(np.dot(g, g)))
    if norm > clip_norm:
        g *= clip_norm / (norm + 1e-12)
    return norm
