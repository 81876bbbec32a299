"""Validate an exported model: ONNX checks, no training-only behaviour, and parity with the
executor at two batch sizes (and two sequence lengths when the input has symbolic axes).

`parity_report` returns a plain JSON-able dict whose "ok" is False on any failure, and
`raise_for_report` turns a failed report into a ParityError (a NetspecError: the CLI exits 1).
`run_onnx` is the serving path: predict from a .onnx file or ModelProto.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx

from .errors import ExportError, ParityError

ATOL, RTOL = 1e-5, 1e-4  # |a - b| <= ATOL + RTOL * |b|, as converters use in float32
TRAINING_OPS = ("Dropout", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                "Bernoulli", "Multinomial")  # fmt: skip
_NP_TYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.INT64: np.int64,
             onnx.TensorProto.INT32: np.int32, onnx.TensorProto.DOUBLE: np.float64}  # fmt: skip


def check_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnx.checker (full check) and strict, type-checked shape inference. Returns the model
    with inferred shapes; raises ExportError naming what failed."""
    try:
        onnx.checker.check_model(model, full_check=True)
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"the exported model is not valid ONNX: {exc}") from exc


def training_behaviour(model: onnx.ModelProto) -> list[str]:
    """Training-only ops left in the graph (empty list when the model is inference-only)."""
    problems = []
    for n in model.graph.node:
        if n.op_type in TRAINING_OPS:
            problems.append(f"node {n.name or n.op_type!r} is a {n.op_type} (training-only)")
        if n.op_type == "BatchNormalization":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if attrs.get("training_mode", 0) != 0:
                problems.append(
                    f"BatchNormalization {n.name!r} has training_mode={attrs['training_mode']}"
                )
            if len([o for o in n.output if o]) != 1:
                problems.append(
                    f"BatchNormalization {n.name!r} has {len(n.output)} outputs (inference form has 1)"
                )
    return problems


class OnnxRunner:
    """Runs a model with onnxruntime (a dependency: it is the serving path and the parity check;
    onnx.reference is not used as a fallback since it is wrong on LSTM sequence lengths)."""

    def __init__(self, model: str | Path | onnx.ModelProto, threads: int | None = None):
        if not isinstance(model, onnx.ModelProto):
            from .model_file import load_onnx

            model = load_onnx(model)
        self.model = model
        self.inputs = [
            (i.name, _NP_TYPES.get(i.type.tensor_type.elem_type, np.float32))
            for i in self.model.graph.input
        ]
        self.outputs = [o.name for o in self.model.graph.output]
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - exercised only on a broken install
            raise ExportError("onnxruntime is not installed; it is a netspec dependency: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.runtime = f"onnxruntime {ort.__version__}"
        self._sess = ort.InferenceSession(
            self.model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )

    def run(self, x: np.ndarray, lengths: np.ndarray | None = None) -> list[np.ndarray]:
        x = np.asarray(x)
        feeds = {self.inputs[0][0]: x.astype(self.inputs[0][1], copy=False)}
        if len(self.inputs) > 1:  # the sequence-lengths input: full length unless given
            if lengths is None:
                lengths = np.full(x.shape[0], x.shape[1])
            feeds[self.inputs[1][0]] = np.asarray(lengths).astype(self.inputs[1][1])
        return self._sess.run(None, feeds)


def run_onnx(
    path_or_model: str | Path | onnx.ModelProto, x: np.ndarray, lengths: np.ndarray | None = None
) -> np.ndarray:
    """Predict with an exported model (the serving path): the "output" tensor for batch `x`."""
    return OnnxRunner(path_or_model).run(x, lengths)[0]


def model_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def _rows(x: np.ndarray, n: int) -> np.ndarray:
    """The first n samples of x, cycling when x has fewer."""
    return x[np.arange(n) % len(x)]


def _symbolic_axes(model: onnx.ModelProto) -> list[int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [i for i, d in enumerate(dims) if i > 0 and not d.HasField("dim_value")]


def _crop(x: np.ndarray, axes: list[int]) -> np.ndarray:
    index = tuple(
        slice(0, max(1, 2 * x.shape[i] // 3)) if i in axes else slice(None) for i in range(x.ndim)
    )
    return x[index]


def _compare(
    got: np.ndarray, want: np.ndarray, classification: bool, atol: float, rtol: float
) -> dict:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return {"error": f"shape mismatch: onnx {got.shape} vs executor {want.shape}", "within_tolerance": False,
                "argmax_agrees": False if classification else None, "max_abs": None, "max_rel": None}  # fmt: skip
    diff = np.abs(got - want)
    finite = bool(np.all(np.isfinite(got)) and np.all(np.isfinite(want)))
    out = {
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "max_rel": float((diff / np.maximum(np.abs(want), 1e-12)).max()) if diff.size else 0.0,
        "within_tolerance": finite and bool(np.all(diff <= atol + rtol * np.abs(want))),
        "argmax_agrees": None,
        "error": None if finite else "non-finite values in the outputs",
    }
    if classification and got.ndim >= 2:
        if got.shape[-1] > 1:
            out["argmax_agrees"] = bool(np.array_equal(got.argmax(-1), want.argmax(-1)))
        else:  # one sigmoid unit: the decision at 0.5
            out["argmax_agrees"] = bool(np.array_equal(got > 0.5, want > 0.5))
    return out


def parity_report(
    model: onnx.ModelProto | str | Path,
    predict_fn: Callable[..., np.ndarray],
    sample_x_list: Sequence[np.ndarray] | np.ndarray,
    *,
    batch_sizes: Sequence[int] = (1, 37),
    lengths_list: Sequence[np.ndarray] | None = None,
    task: str | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
    check: bool = True,
) -> dict:
    """Compare the exported model with `predict_fn` (the executor) on every sample array at every
    batch size. `sample_x_list`: one or more input arrays (e.g. of different sequence lengths);
    when the input has symbolic non-batch axes and one array is given, a copy cropped to 2/3 of
    those axes is added. `predict_fn(x)` (or `predict_fn(x, lengths)` with `lengths_list`)
    returns the executor's output. `task` defaults to the model's metadata."""
    runner = OnnxRunner(model, threads=1)
    model = runner.model
    meta = model_metadata(model)
    task = task or meta.get("task", "regression")
    classification = task == "classification"
    xs = [sample_x_list] if isinstance(sample_x_list, np.ndarray) else list(sample_x_list)
    lens = list(lengths_list) if lengths_list is not None else [None] * len(xs)
    sym = _symbolic_axes(model)
    if sym and len(xs) == 1:
        short = _crop(xs[0], sym)
        if short.shape != xs[0].shape:
            xs.append(short)
            lens.append(None if lens[0] is None else np.minimum(lens[0], short.shape[1]))

    report: dict = {"ok": True, "runtime": runner.runtime, "task": task,
                    "tolerance": {"atol": atol, "rtol": rtol}, "failures": []}  # fmt: skip
    if check:
        try:
            check_model(model)
            report["check"] = {"ok": True, "error": None}
        except ExportError as exc:
            report["check"] = {"ok": False, "error": str(exc)}
            report["failures"].append(str(exc))
    problems = training_behaviour(model)
    report["inference_only"] = {"ok": not problems, "problems": problems}
    report["failures"] += problems

    cases = []
    for x, ln in zip(xs, lens):
        for b in batch_sizes:
            xb = _rows(np.asarray(x), b)
            lb = None if ln is None else _rows(np.asarray(ln), b)
            case = {"batch": int(b), "input_shape": list(xb.shape), "outputs": {}}
            try:
                got = runner.run(xb, lb)
                want = predict_fn(xb) if lb is None else predict_fn(xb, lb)
                want = list(want) if isinstance(want, (list, tuple)) else [want]
                for name, g, w in zip(runner.outputs, got, want):
                    case["outputs"][name] = _compare(g, w, classification, atol, rtol)
            except Exception as exc:  # noqa: BLE001 - reported, not raised: the CLI decides
                case["error"] = f"{type(exc).__name__}: {exc}"
                report["failures"].append(f"batch {b}, input {tuple(xb.shape)}: {case['error']}")
            cases.append(case)
    report["cases"] = cases

    outputs: dict = {}
    for case in cases:
        for name, r in case["outputs"].items():
            agg = outputs.setdefault(name, {"max_abs": 0.0, "max_rel": 0.0, "within_tolerance": True,
                                            "argmax_agrees": True if classification else None})  # fmt: skip
            if r.get("error"):
                report["failures"].append(
                    f"{name}, batch {case['batch']}, input {tuple(case['input_shape'])}: {r['error']}"
                )
            for k in ("max_abs", "max_rel"):
                agg[k] = max(agg[k], r[k]) if r[k] is not None else float("inf")
            agg["within_tolerance"] &= r["within_tolerance"]
            if classification:
                agg["argmax_agrees"] &= bool(r["argmax_agrees"])
    report["outputs"] = outputs
    for name, agg in outputs.items():
        if not agg["within_tolerance"]:
            report["failures"].append(
                f"{name}: max abs error {agg['max_abs']:.3g}, max rel error {agg['max_rel']:.3g} "
                f"exceed |a-b| <= {atol:g} + {rtol:g}|b|"
            )
        if agg["argmax_agrees"] is False:
            report["failures"].append(f"{name}: the predicted class differs on some rows")
    report["ok"] = not report["failures"]
    return report


def raise_for_report(report: dict) -> None:
    """Raise ParityError (exit code 1 in the CLI) when a parity report failed."""
    if not report["ok"]:
        raise ParityError(
            "the exported ONNX model does not match the executor:\n  "
            + "\n  ".join(report["failures"])
        )
