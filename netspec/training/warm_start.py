"""Warm start (`train.init_from`): load parameters by name from a checkpoint or run folder and
report what loaded, what kept its fresh initialization (including every parameter of a layer
that did not fit), and what did not fit."""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError
from .checkpoint import check_tensors, load_arrays


def warm_start(store, source: Path) -> dict:
    if source.is_dir():
        source = source / "model.safetensors"
    if not source.exists() and not source.is_symlink():
        raise CheckpointError(f"train.init_from: {source}: no such file (give a .safetensors file or a run folder)")
    arrays = load_arrays(source)
    # A layer loads whole or not at all: a fresh weight beside an old bias would be neither model.
    layers: dict[str, list[str]] = {}
    for name in store.values:
        layers.setdefault(name.rsplit(".", 1)[0], []).append(name)
    loaded, mismatched = [], []
    for names in layers.values():
        present = [n for n in names if n in arrays]
        bad = [n for n in present if arrays[n].shape != store.values[n].shape]
        if bad:
            mismatched += [f"{n}: checkpoint {tuple(arrays[n].shape)} vs model {tuple(store.values[n].shape)}" for n in bad]
            continue
        # a NaN or an int8 tensor in the source is its fault, not a divergence of this run
        check_tensors(f"train.init_from: {source}", arrays, {n: store.values[n] for n in present})
        for n in present:
            store.values[n][...] = arrays[n]
        loaded += present
    reinit = [n for n in store.values if n not in loaded]
    unused = [n for n in arrays if n not in store.values and not n.startswith("optimizer/")]
    return {"source": str(source), "loaded": loaded, "initialized": reinit, "mismatched": mismatched, "unused": unused}
