"""Whether the compiled loops (compiled_loops.py, lstm_loops.py and tanh_loops.py, Numba) run, and the switch that turns them off.

Some kernels are data movement that numpy can only do one short image row per call: building
conv columns, adding column gradients back (col2im), max pooling and its gradient. Their cost
is per row, not per element (cnn_mnist: ~9 ms of an 18.7 ms training step, bench/profile_phases.py
with the numpy kernels). The lstm cell is a dozen numpy calls a step over arrays of a few
thousand values, each costing more in call overhead than in arithmetic (lstm_loops.py).
The same loops compiled run at memory speed. They compute the same values as the numpy code
next to them (copies, maxima, sums and products in the same order), so either path gives the same
results, and the numpy one stays as the fallback and the reference the tests compare against.

The compiled path runs when Numba imports, unless NETSPEC_KERNELS=numpy. Numba is imported on
the first kernel call that wants it (not at `import netspec`: a spec check never pays for it),
and each loop is compiled once per dtype and layout, then cached on disk by Numba.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

ENV = "NETSPEC_KERNELS"  # "numpy": never run the compiled loops
_forced: list[bool] = []  # innermost `forced(...)` wins (tests)


@lru_cache(maxsize=1)
def _importable() -> bool:
    if os.environ.get(ENV, "").strip().lower() == "numpy":
        return False
    try:
        importlib.import_module("numba")
    except Exception:  # not installed, or a broken llvmlite: the numpy kernels run instead
        return False
    return True


def enabled() -> bool:
    return _forced[-1] if _forced else _importable()


_modules: dict[str, object] = {}


def _module(name: str):
    """A compiled loops module (imports Numba on first use; then kept: kernels ask per chunk)."""
    mod = _modules.get(name)
    if mod is None:
        mod = _modules[name] = importlib.import_module(f"{__package__}.{name}")
    return mod


def loops():
    """The conv and pool kernels' loops (compiled_loops.py)."""
    return _module("compiled_loops")


def lstm_loops():
    """The lstm cell's loops (lstm_loops.py)."""
    return _module("lstm_loops")


def _rational(a) -> bool:
    return a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous and enabled()


def tanh_cols(a, lo: int, hi: int) -> None:
    """a[:, lo:hi] <- tanh, in place, for the recurrent kernels: fast_tanh.py's rational on the
    compiled loops (tanh_loops.py) for a 2-D float32 array with contiguous rows (numpy's
    float32 tanh is a scalar loop on some CPUs), else numpy's. Not for layers an MLP has: it
    would load Numba."""
    if _rational(a):
        _module("tanh_loops").tanh_cols(a, lo, hi)
    else:
        v = a[:, lo:hi]
        np.tanh(v, out=v)


def sigmoid_cols(a, lo: int, hi: int) -> None:
    """a[:, lo:hi] <- sigmoid = 0.5 tanh(a / 2) + 0.5, in place, as tanh_cols chooses."""
    if _rational(a):
        _module("tanh_loops").sigmoid_cols(a, lo, hi, a.dtype.type(0.5))
    else:
        v = a[:, lo:hi]
        v *= 0.5
        np.tanh(v, out=v)
        v *= 0.5
        v += 0.5


@contextmanager
def forced(on: bool):
    """Run the block with the compiled loops on or off (off: the numpy kernels)."""
    if on and not _importable():
        raise RuntimeError("the compiled kernels need Numba (pip install numba)")
    _forced.append(on)
    try:
        yield
    finally:
        _forced.pop()
