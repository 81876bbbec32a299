"""What padded steps hold: the one definition every stage uses.

A batch of sequences is padded to a common length; `lengths` (batch,) gives each sample's real
steps along the input's time axis. Whatever a file or a caller puts at padded steps, the
network sees ZERO there: after standardization (so the exported Sub/Div cannot leave
"-mean/std" behind) and before any layer (so a branch outside the recurrent layers, e.g. a
global pool of the input, reads zeros too). Data loading, the executor (training and
inference, hence Model.predict and `netspec predict RUN`), the ONNX export (a Where on the
standardized input) and the export's parity check all apply this function or its ONNX twin;
tests/test_padded_steps.py feeds one batch with garbage at padded steps through all of them.
"""

from __future__ import annotations

import numpy as np


def real_steps(lengths, steps: int, ndim: int, axis: int = 1) -> np.ndarray:
    """Bool mask broadcastable to an (batch, ..., time at `axis`, ...) array of rank `ndim`."""
    lens = np.asarray(lengths)
    mask = np.arange(steps)[None, :] < lens[:, None]  # (batch, steps)
    shape = [lens.shape[0]] + [1] * (ndim - 1)
    shape[axis] = steps
    return mask.reshape(shape)


def zero_padded_steps(x: np.ndarray, lengths, axis: int = 1) -> np.ndarray:
    """x with every padded step set to 0 (a new array; x itself when there are no lengths)."""
    if lengths is None or x.ndim <= axis:
        return x
    mask = real_steps(lengths, x.shape[axis], x.ndim, axis)
    if bool(mask.all()):
        return x
    return np.where(mask, x, np.zeros((), dtype=x.dtype))
