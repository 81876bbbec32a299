"""Warm start (`train.init_from`): load parameters by name from a checkpoint or run folder and
report what loaded, what kept its fresh initialization, and what did not fit."""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError
from .checkpoint import load_arrays


def warm_start(store, source: Path) -> dict:
    if source.is_dir():
        source = source / "model.safetensors"
    if not source.exists():
        raise CheckpointError(f"train.init_from: {source}: no such file (give a .safetensors file or a run folder)")
    arrays = load_arrays(source)
    loaded, mismatched = [], []
    for name, value in store.values.items():
        if name not in arrays:
            continue
        src = arrays[name]
        if src.shape != value.shape:
            mismatched.append(f"{name}: checkpoint {tuple(src.shape)} vs model {tuple(value.shape)}")
            continue
        value[...] = src
        loaded.append(name)
    reinit = [n for n in store.values if n not in loaded and not any(m.startswith(n + ":") for m in mismatched)]
    unused = [n for n in arrays if n not in store.values and not n.startswith("optimizer/")]
    return {"source": str(source), "loaded": loaded, "initialized": reinit, "mismatched": mismatched, "unused": unused}
