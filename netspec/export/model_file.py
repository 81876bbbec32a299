"""Reading a user's .onnx file without trusting it: a regular file under the cap, self-contained
(no external data), every initializer's declared size matching the bytes it holds, and the
netspec metadata of the types the exporter writes. Each problem exits 1 naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx

from .. import safe_io
from ..errors import NetspecError

# Initializers larger than this are refused before onnxruntime allocates them.
TENSOR_LIMIT = safe_io.ONNX_LIMIT


class OnnxFileError(NetspecError):
    """An .onnx file that netspec cannot serve; the message starts with the file."""


def _itemsize(elem_type: int) -> int | None:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return None


_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")


def check_initializers(proto: onnx.ModelProto, file: str) -> None:
    """Every initializer declares non-negative dims whose size fits the limit and matches its data."""
    tensors = list(proto.graph.initializer)
    tensors += [a.t for n in proto.graph.node for a in n.attribute if a.HasField("t")]
    for t in tensors:
        name = t.name or "(a Constant)"
        if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data:
            raise OnnxFileError(f"{file}: tensor {name!r} keeps its data in an external file; netspec "
                                "serves self-contained models only (as `netspec export` writes them)")  # fmt: skip
        if any(d < 0 for d in t.dims):
            raise OnnxFileError(f"{file}: tensor {name!r} has negative dims {list(t.dims)}")
        count = math.prod(t.dims)
        size = _itemsize(t.data_type)
        if size is None:
            raise OnnxFileError(f"{file}: tensor {name!r} has an unknown data type {t.data_type}")
        if count * size > TENSOR_LIMIT:
            raise OnnxFileError(f"{file}: tensor {name!r} declares dims {list(t.dims)} "
                                f"({safe_io.size_text(count * size)}), more than the "
                                f"{safe_io.size_text(TENSOR_LIMIT)} limit")  # fmt: skip
        if t.HasField("raw_data"):
            held = len(t.raw_data)
            want = count * size
        else:
            held = max((len(getattr(t, f)) for f in _TYPED_FIELDS), default=0)
            want = count  # one entry per value (small ints and float16 too, in int32_data)
        if held != want:
            raise OnnxFileError(f"{file}: tensor {name!r} declares dims {list(t.dims)} ({count} values) "
                                f"but holds {held} {'bytes' if t.HasField('raw_data') else 'values'}")  # fmt: skip


def load_onnx(path: Path | str) -> onnx.ModelProto:
    """The model in `path`, checked as the module docstring says."""
    file = str(path)
    data = safe_io.read_bytes(path, limit=safe_io.ONNX_LIMIT, what=".onnx model",
                              error=lambda m: OnnxFileError(f"{file}: {m}"))  # fmt: skip
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise OnnxFileError(f"{file}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if not proto.graph.output or not proto.graph.input:
        raise OnnxFileError(f"{file}: the model has no inputs or no outputs")
    check_initializers(proto, file)
    return proto


def _json(meta: dict[str, str], key: str, file: str, default: str = "null"):
    try:
        return json.loads(meta.get(key, default))
    except (ValueError, RecursionError) as exc:
        raise OnnxFileError(f"{file}: metadata_props {key!r} is not JSON ({exc})") from None


def _string_list(value, key: str, file: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OnnxFileError(f"{file}: metadata_props {key!r} must be a JSON list of strings")
    return value


def netspec_metadata(proto: onnx.ModelProto, file: str) -> dict:
    """spec (parsed JSON), class_names, feature_names, task and loss, type-checked."""
    meta = {p.key: p.value for p in proto.metadata_props}
    if "netspec_spec" not in meta:
        raise OnnxFileError(f"{file}: not exported by netspec (no netspec_spec metadata)")
    spec = _json(meta, "netspec_spec", file)
    if not isinstance(spec, dict):
        raise OnnxFileError(f"{file}: metadata_props 'netspec_spec' must be a JSON object (the resolved spec)")
    out = {
        "spec": spec,
        "class_names": _string_list(_json(meta, "class_names", file), "class_names", file) or None,
        "feature_names": _string_list(_json(meta, "feature_names", file), "feature_names", file),
    }
    for key in ("task", "loss"):
        out[key] = meta.get(key)
    return out
