"""Checkpoints: arrays in .safetensors (no pickle anywhere) plus a JSON sidecar, written
atomically (temp file in the same folder, fsync, rename), so a crash at any moment leaves the
previous checkpoint intact."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from ..errors import CheckpointError


def atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; keep the usual permissions
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_checkpoint(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write `path` (.safetensors, with the metadata inside its header: the source of truth, so
    arrays and metadata can never disagree) and a readable sidecar `path.with_suffix('.json')`."""
    meta = {**meta, "format": "netspec-checkpoint-1"}
    blob = st_save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata={"netspec": json.dumps(meta)})
    atomic_write(Path(path), blob)
    write_json(Path(path).with_suffix(".json"), meta)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        return dict(st_load(path.read_bytes()))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{path}: not a valid .safetensors file ({exc})") from None


def _header_meta(blob: bytes) -> dict:
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    return json.loads(header.get("__metadata__", {}).get("netspec", "{}"))


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of a checkpoint written by save_checkpoint."""
    path = Path(path)
    arrays = load_arrays(path)
    try:
        meta = _header_meta(path.read_bytes())
    except (ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable metadata ({exc})") from None
    if not meta:
        raise CheckpointError(f"{path}: not a netspec checkpoint (no netspec metadata)")
    return arrays, meta
