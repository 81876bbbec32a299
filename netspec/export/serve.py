"""Exporting a trained model to a file, and serving it back: an exported .onnx carries its
resolved spec (metadata "netspec_spec") and CSV input columns, so `netspec predict model.onnx`
reads input files exactly as the run folder would, and runs them through onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import safe_io
from .errors import ExportError
from .model_file import OnnxFileError, load_onnx, netspec_metadata
from .onnx_export import DEFAULT_OPSET, export_onnx
from .validate import OnnxRunner, check_model, model_metadata, parity_report

SAMPLES = 37


def _sample_inputs(model, rng: np.random.Generator, time: int = 12) -> np.ndarray:
    """Raw inputs for the parity check, on the scale of the training data (drawn from the saved
    standardization's mean and std), or token ids below the vocabulary size. Symbolic dims get
    a size whose 2/3 crop (the parity check's second length) still fits every window."""
    from ..compiler.dims import min_sizes

    least = min_sizes(model.graph)
    shape = [d if isinstance(d, int) else max(time, 2 * least[d]) for d in model.graph.input_shape[1:]]
    if model.spec.model.input_dtype == "int64":
        vocab = min(n.attrs["vocab_size"] for n in model.graph.nodes if n.op == "embedding")
        return rng.integers(0, vocab, (SAMPLES, *shape)).astype(np.int64)
    x = rng.standard_normal((SAMPLES, *shape))
    if model.standardizer is not None:
        x = model.standardizer.mean + model.standardizer.std * x
    return x.astype(np.float32)


def export_run(model, path: Path, opset: int = DEFAULT_OPSET, seed: int = 0) -> dict:
    """Export, validate, check parity with the executor, and write the file (atomically) only
    when parity holds. Returns the report (report["ok"] False means parity failed)."""
    from ..training.run_files import spec_hash

    spec = model.spec
    lengths = spec.data is not None and (spec.data.lengths_key is not None or spec.data.text is not None)
    proto = export_onnx(model.graph, model.params, opset=opset, standardizer=model.standardizer,
                        class_names=model.class_names, spec_hash=spec_hash(spec), spec_name=spec.name,
                        sequence_lengths=lengths, target_scaler=model.target_scaler)  # fmt: skip
    from ..compiler.dims import min_sizes

    least = min_sizes(model.graph)
    symbolic = [d for d in model.graph.input_shape[1:] if isinstance(d, str)]
    extra = {"netspec_spec": spec.model_dump_json(), "feature_names": json.dumps(model.feature_names),
             "loss": spec.train.loss, "min_input_sizes": json.dumps({d: int(least[d]) for d in symbolic}),
             **preprocessing_metadata(model)}  # fmt: skip
    for key, value in extra.items():
        proto.metadata_props.add(key=key, value=value)
    check_model(proto)
    x = _sample_inputs(model, np.random.default_rng(seed))
    if lengths:
        lens = np.random.default_rng(seed + 1).integers(1, x.shape[1] + 1, len(x))
        report = parity_report(proto, lambda a, b: model.predict(a, b), [x], lengths_list=[lens], task=model.task)
    else:
        report = parity_report(proto, lambda a: model.predict(a), [x], task=model.task)
    if report["ok"]:  # a model that fails its parity check is not written
        safe_io.atomic_write(path, proto.SerializeToString())
    report["path"] = str(path)
    report["opset"] = opset
    report["ir_version"] = proto.ir_version
    return report


def preprocessing_metadata(model) -> dict[str, str]:
    """How a server prepares raw inputs: the input kind, and for text the tokenizer rule and the
    vocabulary (token -> id), so it can tokenize exactly as training did."""
    data = model.spec.data
    if data is None:
        return {"input_kind": "array"}
    if data.is_image_folder:
        return {"input_kind": "image", "image_channels": str(model.graph.input_shape[1]),
                "pixel_scale": "the model takes raw 0..255 pixel values (channels first); /255 and "
                               "standardization happen inside"}  # fmt: skip
    if data.text is not None and model.vocabulary is not None:
        return {"input_kind": "text", "tokenizer": data.tokenizer,
                "vocabulary": json.dumps(model.vocabulary.to_dict())}  # fmt: skip
    return {"input_kind": "series" if data.series is not None else "array"}


class OnnxModel:
    """An exported model for the serving path (onnxruntime), reading inputs like a run folder."""

    def __init__(self, path: Path):
        from ..spec import positions, validate_data

        self.path = Path(path)
        file = str(self.path)
        self.proto = load_onnx(self.path)
        meta = netspec_metadata(self.proto, file)
        self.spec = validate_data(meta["spec"], positions.SourceMap(file))
        self.class_names = meta["class_names"]
        self.feature_names = meta["feature_names"]
        self.task = self.spec.train.task if meta["task"] is None else meta["task"]
        self.loss = self.spec.train.loss if meta["loss"] is None else meta["loss"]
        if (self.task, self.loss) != (self.spec.train.task, self.spec.train.loss):
            raise OnnxFileError(f"{file}: metadata task {self.task!r} / loss {self.loss!r} disagree with its "
                                f"spec ({self.spec.train.task!r} / {self.spec.train.loss!r})")  # fmt: skip
        if self.task == "classification":
            from ..training.checkpoint import check_class_names

            dims = self.proto.graph.output[0].type.tensor_type.shape.dim
            check_class_names(self.class_names, self.loss, dims[-1].dim_value if dims else 0, file)
        try:
            self.runner = OnnxRunner(self.proto)
        except ExportError:
            raise
        except Exception as exc:  # onnxruntime refuses the graph: unknown ops, bad types, ...
            raise OnnxFileError(f"{file}: onnxruntime cannot load the model ({type(exc).__name__}: "
                                f"{str(exc).strip()[:300]})") from None  # fmt: skip
        self.vocabulary = None
        raw = model_metadata(self.proto)
        if raw.get("vocabulary"):
            from ..data.text import Vocabulary

            self.vocabulary = Vocabulary.from_dict(json.loads(raw["vocabulary"]))

    def read(self, input_path: Path, progress=None):
        """Examples from a file, read as in training but raw: standardization (and pixel
        scaling) is in the graph, and so is the mapping of scaled targets back to data units."""
        from ..data.prepare import read_inputs

        return read_inputs(Path(input_path), self.spec, None, self.class_names, feature_names=self.feature_names,
                           vocabulary=self.vocabulary, progress=progress)  # fmt: skip

    def predict(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        takes_lengths = len(self.proto.graph.input) > 1
        if not len(x):  # onnxruntime aborts the process on a batch of 0 for some recurrent ops
            dims = self.proto.graph.output[0].type.tensor_type.shape.dim[1:]
            steps = x.shape[1] if x.ndim > 1 else 0  # a symbolic output dim is the time axis
            return np.zeros((0, *[d.dim_value if d.HasField("dim_value") else steps for d in dims]), np.float32)
        try:
            return self.runner.run(x, lengths.astype(np.int32) if lengths is not None and takes_lengths else None)[0]
        except Exception as exc:  # the model's ops fail at run time: a broken model, not a netspec bug
            raise OnnxFileError(f"{self.path}: onnxruntime failed to run the model "
                                f"({type(exc).__name__}: {str(exc).strip()[:300]})") from None  # fmt: skip

    def predict_file(self, input_path: Path) -> np.ndarray:
        ds = self.read(input_path)
        return self.predict(ds.x, ds.lengths)
