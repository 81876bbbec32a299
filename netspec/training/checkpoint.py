"""Checkpoints: arrays in .safetensors (no pickle anywhere) plus a JSON sidecar, written
atomically (safe_io.atomic_write), so a crash at any moment leaves the previous checkpoint intact.

Reading never trusts the file: it must be a regular file under the size cap, its header must
fit in the file and declare tensors whose byte ranges match their dtype and shape before one
array is built, and the metadata must have the types netspec wrote."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from ..errors import CheckpointError
from ..safe_io import CHECKPOINT_LIMIT, atomic_write, read_bytes

HEADER_LIMIT = 100 * 2**20  # safetensors' own cap on the JSON header
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
             "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip

__all__ = ["atomic_write", "check_tensors", "load_arrays", "load_checkpoint", "save_checkpoint", "write_json"]


def write_json(path: Path, obj) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_checkpoint(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write `path` (.safetensors, with the metadata inside its header: the source of truth, so
    arrays and metadata can never disagree) and a readable sidecar `path.with_suffix('.json')`."""
    meta = {**meta, "format": "netspec-checkpoint-1"}
    blob = st_save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata={"netspec": json.dumps(meta)})
    atomic_write(Path(path), blob)
    write_json(Path(path).with_suffix(".json"), meta)


def _read(path: Path) -> bytes:
    return read_bytes(path, limit=CHECKPOINT_LIMIT, what=".safetensors checkpoint",
                      error=lambda m: CheckpointError(f"{path}: {m}"))  # fmt: skip


def parse_header(blob: bytes, path: Path) -> dict:
    """The safetensors header, checked against the file's real size before anything is built."""
    bad = lambda m: CheckpointError(f"{path}: not a valid .safetensors file ({m})")  # noqa: E731
    if len(blob) < 8:
        raise bad(f"{len(blob)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(blob[:8], "little")
    if n > min(HEADER_LIMIT, len(blob) - 8):
        raise bad(f"the header declares {n} bytes but the file has {len(blob) - 8} after the length")
    try:
        header = json.loads(blob[8 : 8 + n])
    except (ValueError, RecursionError) as exc:
        raise bad(f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_size = len(blob) - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise bad("__metadata__ must map names to strings")
            continue
        if not isinstance(entry, dict):
            raise bad(f"tensor {name!r}: expected an object with dtype, shape, data_offsets")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _ITEMSIZE:
            raise bad(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(type(d) is int and 0 <= d < 2**62 for d in shape)):
            raise bad(f"tensor {name!r}: shape must be a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise bad(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        want = math.prod(shape) * _ITEMSIZE[dtype]
        if not 0 <= begin <= end <= data_size or end - begin != want:
            raise bad(f"tensor {name!r}: {dtype} {shape} needs {want} bytes, but its data_offsets "
                      f"{offsets} do not fit the {data_size} data bytes of the file")  # fmt: skip
    return header


def _load(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    path = Path(path)
    blob = _read(path)
    header = parse_header(blob, path)
    try:
        arrays = dict(st_load(blob))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{path}: not a valid .safetensors file ({exc})") from None
    return arrays, header.get("__metadata__", {})


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    return _load(path)[0]


_META_TYPES = {  # key -> (accepted types, what to say)
    "epoch": ((int,), "a whole number"),
    "epochs": ((int,), "a whole number"),
    "optimizer_t": ((int,), "a whole number"),
    "best_epoch": ((int,), "a whole number"),
    "epochs_run": ((int,), "a whole number"),
    "spec_hash": ((str,), "a string"),
    "spec_name": ((str,), "a string"),
    "task": ((str,), "a string"),
    "history": ((list,), "a list of per-epoch objects"),
    "rng": ((dict,), "an object"),
    "standardizer": ((dict, type(None)), "an object or null"),
    "early_stopping": ((dict, type(None)), "an object or null"),
    "class_names": ((list, type(None)), "a list of strings or null"),
    "feature_names": ((list, type(None)), "a list of strings or null"),
}


def check_meta(meta: object, path: Path) -> dict:
    """The checkpoint metadata has the types netspec writes; anything else names the key."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: checkpoint metadata must be a JSON object")
    for key, (types, what) in _META_TYPES.items():
        if key not in meta:
            continue
        value = meta[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and isinstance(value, int) and not isinstance(value, bool) and value < 0:
            ok = False
        if ok and key in ("class_names", "feature_names") and value is not None:
            ok = all(isinstance(v, str) for v in value)
        if ok and key == "history":
            ok = all(isinstance(v, dict) for v in value)
        if not ok:
            raise CheckpointError(f"{path}: metadata {key!r} must be {what}, got {json.dumps(value)[:60]}")
    return meta


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of a checkpoint written by save_checkpoint."""
    path = Path(path)
    arrays, header_meta = _load(path)
    try:
        meta = json.loads(header_meta.get("netspec", "{}"))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: unreadable metadata ({exc})") from None
    if not meta:
        raise CheckpointError(f"{path}: not a netspec checkpoint (no netspec metadata)")
    return arrays, check_meta(meta, path)


def check_tensors(path: Path, arrays: dict[str, np.ndarray], expected: dict[str, np.ndarray],
                  what: str = "weight") -> None:  # fmt: skip
    """Every expected tensor is present with exactly the model's shape, a float dtype, and
    finite values (a broadcast, an int8/bool cast or a NaN is refused, naming the tensor)."""
    for name, want in expected.items():
        if name not in arrays:
            raise CheckpointError(f"{path}: missing {what} {name!r}")
        arr = arrays[name]
        if arr.shape != want.shape:
            raise CheckpointError(f"{path}: {what} {name!r} has shape {list(arr.shape)}, the model needs {list(want.shape)}")
        if arr.dtype.kind != "f":
            raise CheckpointError(f"{path}: {what} {name!r} has dtype {arr.dtype}, expected a float dtype")
        if not np.isfinite(arr).all():
            raise CheckpointError(f"{path}: {what} {name!r} holds NaN or infinite values, which no model can start from or run with")


def check_class_names(names: list[str] | None, loss: str, n_out: int, where: str) -> None:
    """Class names must match the output units one to one (a sigmoid unit: two names), so a
    prediction never indexes past them nor is silently named by the wrong class."""
    if names is None or not isinstance(n_out, int) or n_out <= 0:
        return
    want = 2 if loss == "binary_cross_entropy" and n_out == 1 else n_out
    if len(names) != want:
        raise CheckpointError(f"{where}: {len(names)} class names for a model with {n_out} output "
                              f"unit{'s' if n_out != 1 else ''} (expected {want} names)")  # fmt: skip
