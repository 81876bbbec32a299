"""Whole-model checks after shape inference: loss/output pairing, resource guard, [expect]."""

from __future__ import annotations

from ..errors import Diagnostic, did_you_mean
from ..ir.graph import FUSED_OUTPUT, INPUT_TIME, Graph, format_shape
from ..spec.models import Spec
from .cost import Cost, human_bytes

# Refuse models whose training state alone could not fit a machine (checked before allocating).
MAX_PARAMS = 2_000_000_000
MAX_TRAIN_BYTES = 64 * 2**30



def _output_key(spec: Spec) -> tuple:
    i = len(spec.model.layers) - 1
    last = spec.model.layers[-1]
    key = "activation" if hasattr(last, "activation") else ("function" if last.type == "activation" else None)
    return ("model", "layers", i) + ((key,) if key else ())


def check_loss_output(spec: Spec, graph: Graph) -> list[Diagnostic]:
    loss = spec.train.loss
    out = graph.node(graph.output)
    unit = out.op if out.op in ("softmax", "sigmoid", "relu", "tanh", "leaky_relu") else "identity"
    want = FUSED_OUTPUT.get(loss)
    path = _output_key(spec)
    if want and unit != want:
        return [
            Diagnostic(
                "loss-output",
                f'loss "{loss}" needs a {want} output, but the last layer `{graph.output}` outputs '
                f'{unit}; set activation = "{want}" on it (or change train.loss)',
                path,
            )
        ]
    # A sigmoid or tanh output with mse/mae is bounded regression (the classic backprop worked
    # example); softmax rows are class probabilities and belong with cross_entropy.
    if loss in ("mse", "mae") and unit == "softmax":
        return [
            Diagnostic(
                "loss-output",
                f'loss "{loss}" is for regression, but the last layer `{graph.output}` outputs softmax; '
                'use train.loss = "cross_entropy" for classification, or activation = "identity" for regression',
                path,
            )
        ]
    if loss == "cross_entropy" and graph.output_shape[-1] == 1:
        return [
            Diagnostic(
                "loss-output",
                'softmax over 1 unit is always 1: use units >= 2, or 1 unit with "sigmoid" and '
                '"binary_cross_entropy"',
                path[:3] + (("units",) if "units" in type(spec.model.layers[-1]).model_fields else ()),
            )
        ]
    return []


def check_resources(graph: Graph, cost: Cost, spec: Spec | None = None) -> list[Diagnostic]:
    if cost.params > MAX_PARAMS or cost.train_bytes > MAX_TRAIN_BYTES:
        big = max(graph.nodes, key=lambda n: sum(p.size for p in n.params.values()) or 0)
        i = big.path[2] if len(big.path) > 2 else 0
        fields = type(spec.model.layers[i]).model_fields if spec is not None else {}
        size_key = next((k for k in ("units", "filters", "vocab_size") if k in fields), None)
        return [
            Diagnostic(
                "too-large",
                f"the model is too large to train: {cost.params:,} parameters, about "
                f"{human_bytes(cost.train_bytes)} to train at batch {cost.batch} "
                f"(limits: {MAX_PARAMS:,} parameters, {human_bytes(MAX_TRAIN_BYTES)}); "
                f"the largest layer is `{big.layer}`",
                ("model", "layers", i) + ((size_key,) if size_key else ()),
            )
        ]
    return []


def _dims(shape: list) -> str:
    return "[" + ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in shape) + "]"


CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")


def check_metrics(spec: Spec) -> list[Diagnostic]:
    """Metrics must fit the task. (Whether targets fit the output's shape depends on the data:
    netspec.api checks it once the data is loaded.)"""
    out: list[Diagnostic] = []
    task = spec.train.task
    for i, m in enumerate(spec.train.metrics or []):
        if (m in CLASSIFICATION_METRICS) != (task == "classification"):
            fits = "classification" if m in CLASSIFICATION_METRICS else "regression"
            use = "accuracy, precision, recall, f1" if task == "classification" else "mse, mae, rmse, r2"
            out.append(Diagnostic("value", f'"{m}" is a {fits} metric, but loss "{spec.train.loss}" makes this '
                                  f"a {task} task; use {use}", ("train", "metrics", i)))  # fmt: skip
    return out


def check_data(spec: Spec) -> list[Diagnostic]:
    """[data] settings that cannot work with this model or file, found without reading data."""
    d = spec.data
    if d is None:
        return []
    out = []
    recurrent = any(ly.type in ("rnn", "lstm", "gru") for ly in spec.model.layers)
    if d.lengths_key is not None and not recurrent:
        out.append(Diagnostic("value", "per-sample lengths mask padded steps in rnn, lstm and gru layers, and this model "
                              "has none, so padding would count: remove lengths_key or add an rnn, lstm or gru layer",
                              ("data", "lengths_key")))  # fmt: skip
    if d.lengths_key is not None and not d.path.endswith(".npz"):
        out.append(Diagnostic("value", "lengths_key names an array in an .npz file, but data.path is not .npz",
                              ("data", "lengths_key")))  # fmt: skip
    if d.target_lengths_key is not None and not d.path.endswith(".npz"):
        out.append(Diagnostic("value", "target_lengths_key names an array in an .npz file, but data.path is not .npz",
                              ("data", "target_lengths_key")))  # fmt: skip
    if d.series is not None and spec.train.task != "regression":
        out.append(Diagnostic("value", f'data.series makes a forecasting (regression) task, but train.loss is '
                              f'"{spec.train.loss}"; use "mse" or "mae"', ("data", "series")))  # fmt: skip
    if d.series is not None and d.features is not None:
        out.append(Diagnostic("value", "with `series` the input is the series itself: remove `features`",
                              ("data", "features")))  # fmt: skip
    return out


def check_target_lengths(spec: Spec, graph: Graph) -> list[Diagnostic]:
    """target_lengths_key masks an output time axis of its own (a decoder's), nothing else."""
    if spec.data is None or spec.data.target_lengths_key is None:
        return []
    out = graph.node(graph.output)
    if len(out.shape) >= 3 and out.time_axis != INPUT_TIME:
        return []
    why = ("its time axis is the input's, whose real steps lengths_key gives" if len(out.shape) >= 3
           else f"it has no time axis (shape {format_shape(out.shape)})")  # fmt: skip
    return [Diagnostic("value", f"target_lengths_key gives the real steps of an output sequence with its own "
                       f"time axis (a decoder after `repeat`), but the output `{graph.output}` is not one: {why}; "
                       "remove target_lengths_key", ("data", "target_lengths_key"))]  # fmt: skip


def check_classes(spec: Spec, graph: Graph) -> list[Diagnostic]:
    """data.classes must give one name per output unit (two for a single sigmoid unit)."""
    if spec.data is None or spec.data.classes is None:
        return []
    if spec.train.task != "classification":
        return [Diagnostic("value", "data.classes names classes, but this is a regression task", ("data", "classes"))]
    units = graph.output_shape[-1]
    want = 2 if spec.train.loss == "binary_cross_entropy" and units == 1 else units
    if isinstance(want, int) and len(spec.data.classes) != want:
        return [Diagnostic("value", f"data.classes lists {len(spec.data.classes)} classes but the output "
                           f"layer gives {want}: one name per class, in output order", ("data", "classes"))]  # fmt: skip
    return []


def check_monitor(spec: Spec) -> list[Diagnostic]:
    """early_stopping.monitor must name the loss or a metric the run computes."""
    es = spec.train.early_stopping
    if es is None:
        return []
    names = ["loss", *spec.train.resolved_metrics]
    allowed = [f"val_{n}" for n in names] + names
    if es.monitor in allowed:
        if es.monitor.startswith("val_") and spec.data is not None and spec.data.split.val == 0:
            return [Diagnostic("value", f'"{es.monitor}" needs a validation split, but data.split.val = 0; '
                               f'give data.split a val fraction, or monitor "{es.monitor[4:]}"',
                               ("train", "early_stopping", "monitor"))]  # fmt: skip
        return []
    return [
        Diagnostic(
            "value",
            f'cannot monitor "{es.monitor}": this run computes {", ".join(allowed)} (add a metric to '
            f"train.metrics to monitor it){did_you_mean(es.monitor, allowed, quote=chr(34))}",
            ("train", "early_stopping", "monitor"),
        )
    ]


def check_expect(spec: Spec, graph: Graph, cost: Cost) -> list[Diagnostic]:
    e = spec.expect
    if e is None:
        return []
    out: list[Diagnostic] = []

    def fail(key: str, msg: str) -> None:
        out.append(Diagnostic("expect", msg, ("expect", key)))

    if e.params is not None and e.params != cost.params:
        fail("params", f"expected {e.params:,} parameters, the model has {cost.params:,}")
    if e.trainable_params is not None and e.trainable_params != cost.trainable:
        fail("trainable_params", f"expected {e.trainable_params:,} trainable parameters, the model has {cost.trainable:,}")
    if e.output_shape is not None:
        got = list(graph.output_shape)
        want = list(e.output_shape)
        if want and want[0] != "batch":
            want = ["batch", *want]
        if got != want:
            fail("output_shape", f"expected output shape {_dims(want)}, the model gives {_dims(got)}")
    if e.max_flops is not None and cost.flops > e.max_flops:
        fail("max_flops", f"expected at most {e.max_flops:,} FLOPs per sample, the model needs {cost.flops:,}")
    return out
