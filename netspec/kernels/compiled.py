"""Whether the compiled loops (compiled_loops.py, Numba) run, and the switch that turns them off.

Some kernels are data movement that numpy can only do one short image row per call: building
conv columns, adding column gradients back (col2im), max pooling and its gradient. Their cost
is per row, not per element (cnn_mnist: ~9 ms of an 18.7 ms training step, bench/profile_phases.py
with the numpy kernels).
The same loops compiled run at memory speed. They compute the same values as the numpy code
next to them (copies, maxima, and sums added in the same order), so either path gives the same
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


_loops = None


def loops():
    """The compiled loops module (imports Numba on first use; then kept: kernels ask per chunk)."""
    global _loops
    if _loops is None:
        from . import compiled_loops

        _loops = compiled_loops
    return _loops


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
