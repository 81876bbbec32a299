"""IR -> ONNX. One emitter per op (netspec/export/emitters), the graph around them built here.

The exported model is self-contained for serving:
- one input named after the spec's input (`graph.input_name`, "input"), float32 or int64 token
  ids; an optional second input "lengths" (int32, (batch,)) for padded sequences;
- one output, always named "output" (a stable name servers can rely on, whatever the last
  layer is called);
- symbolic dims as `dim_param` with the spec's names ("batch", "time", ...); derived sizes such
  as a strided conv over a symbolic length are left unnamed;
- input standardization (if any) embedded as Sub/Div on the input; with a lengths input, the
  padded steps of the (standardized) input are then set to 0 (export/padding.py), as every
  other stage does (kernels/padding.py);
- metadata_props: class_names (JSON list), spec_name, spec_hash, netspec_version, task,
  standardized ("true"/"false").
Training-only behaviour is never exported: dropout and noise are rewired away, batch norm is in
inference form.
"""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
from onnx import TensorProto, helper

from .. import __version__
from ..ir.graph import Graph, Shape
from .emitters import get_emitter
from .emitters.context import EmitContext
from .errors import ExportError, OpsetError
from .padding import mask_padded_steps
from .postprocess import unscale_output
from .simplify import cancel_transposes

# opset -> the IR version onnxruntime expects for it (never the installed onnx's default)
IR_VERSIONS = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
SUPPORTED_OPSETS = tuple(sorted(IR_VERSIONS))
DEFAULT_OPSET = 17
OUTPUT_NAME = "output"
LENGTHS_NAME = "lengths"
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")
_DTYPES = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ir_version_for(opset: int) -> int:
    if isinstance(opset, bool) or opset not in IR_VERSIONS:
        raise OpsetError(
            f"ONNX opset {opset!r} is not supported; use one of "
            f"{', '.join(map(str, SUPPORTED_OPSETS))} (default {DEFAULT_OPSET})"
        )
    return IR_VERSIONS[opset]


def _dims(shape: Shape) -> list:
    """int -> dim_value, a plain name -> dim_param, a derived expression -> unknown."""
    return [d if isinstance(d, int) else (d if _IDENT.match(d) else None) for d in shape]


def task_of(graph: Graph) -> str:
    return "classification" if graph.loss in CLASSIFICATION_LOSSES else "regression"


def _standardize(graph: Graph, standardizer, ctx: EmitContext) -> list:
    """Sub(mean) then Div(std) on the input; std zeros become 1 (constant features pass through)."""
    if graph.input_dtype != "float32":
        raise ExportError(
            "standardization applies to float inputs, but the model input is int64 token ids"
        )
    mean = np.asarray(standardizer.mean, dtype=np.float32)
    std = np.asarray(standardizer.std, dtype=np.float32)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ExportError("the standardization mean/std contain NaN or infinite values")
    std = np.where(std == 0, np.float32(1), std).astype(np.float32)
    per_sample = graph.input_shape[1:]
    for name, arr in (("mean", mean), ("std", std)):
        aligned = per_sample[len(per_sample) - arr.ndim :] if arr.ndim else ()
        ok = arr.ndim <= len(per_sample) and all(
            a == 1 or (isinstance(d, int) and a == d) for a, d in zip(arr.shape, aligned)
        )
        if not ok:
            raise ExportError(
                f"standardization {name} has shape {arr.shape}, which does not broadcast to the "
                f"per-sample input shape ({', '.join(map(str, per_sample))})"
            )
    x = ctx.names[graph.input_name]
    m = ctx.initializer("standardize.mean", mean)
    s = ctx.initializer("standardize.std", std)
    centered = ctx.unique(f"{x}/centered")
    scaled = ctx.unique(f"{x}/standardized")
    ctx.names[graph.input_name] = scaled
    sub = helper.make_node("Sub", [x, m.name], [centered], name=ctx.unique("standardize/Sub"))
    div = helper.make_node("Div", [centered, s.name], [scaled], name=ctx.unique("standardize/Div"))
    return [m, s, sub, div]


def export_onnx(
    graph: Graph,
    params: dict[str, np.ndarray],
    *,
    opset: int = DEFAULT_OPSET,
    standardizer=None,
    class_names: list[str] | None = None,
    spec_hash: str = "",
    spec_name: str = "",
    sequence_lengths: bool = False,
    target_scaler=None,
    extra_metadata: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """Build the ONNX model of `graph` with `params` (Param.name -> array) baked in.

    `standardizer`: None or an object with `.mean` / `.std` arrays broadcastable to the
    per-sample input shape. `sequence_lengths`: add an int32 "lengths" input (batch,) passed to
    every rnn/lstm as `sequence_lens`. Raises OpsetError for an unsupported opset and
    ExportError for anything else that cannot be exported. `target_scaler` (mean/std per output
    column) appends Mul/Add that map scaled regression outputs back to the data's units. Validate the result with
    netspec.export.validate.check_model.
    """
    ir_version = ir_version_for(opset)
    if graph.input_dtype not in _DTYPES:
        raise ExportError(f"input dtype {graph.input_dtype!r} cannot be exported")
    ctx = EmitContext(graph=graph, params=params, opset=opset)
    ctx.used.update({graph.input_name, OUTPUT_NAME})
    ctx.names[graph.input_name] = graph.input_name
    inputs = [
        helper.make_tensor_value_info(
            graph.input_name, _DTYPES[graph.input_dtype], _dims(graph.input_shape)
        )
    ]
    if sequence_lengths:
        if not any(graph.takes_lengths(n) for n in graph.nodes):
            raise ExportError(
                "a sequence-lengths input only makes sense for models with an rnn, lstm or gru layer over the input's time axis"
            )
        ctx.lengths = ctx.unique(LENGTHS_NAME)
        inputs.append(
            helper.make_tensor_value_info(
                ctx.lengths, TensorProto.INT32, [_dims(graph.input_shape)[0]]
            )
        )
    for node in graph.nodes:  # ONNX names of node outputs, assigned up front
        last = node.name == graph.output and target_scaler is None
        ctx.names[node.name] = OUTPUT_NAME if last else ctx.unique(node.name)

    items: list = _standardize(graph, standardizer, ctx) if standardizer is not None else []
    if ctx.lengths:  # padded steps hold 0, after standardization (kernels/padding.py)
        items += mask_padded_steps(graph, ctx)
    for node in graph.nodes:
        items += get_emitter(node.op)(ctx, node)
    if target_scaler is not None:
        items += unscale_output(ctx, ctx.names[graph.output], OUTPUT_NAME, target_scaler)
    elif ctx.names[graph.output] != OUTPUT_NAME:  # the output was rewired (e.g. a trailing dropout)
        items.append(
            helper.make_node(
                "Identity",
                [ctx.names[graph.output]],
                [OUTPUT_NAME],
                name=ctx.unique("output/Identity"),
            )
        )

    nodes = cancel_transposes([i for i in items if isinstance(i, onnx.NodeProto)], {OUTPUT_NAME})
    inits = [i for i in items if isinstance(i, onnx.TensorProto)]
    output = helper.make_tensor_value_info(
        OUTPUT_NAME, TensorProto.FLOAT, _dims(graph.output_shape)
    )
    name = spec_name or graph.name
    onnx_graph = helper.make_graph(nodes, name, inputs, [output], initializer=inits)
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="netspec",
        producer_version=__version__,
        doc_string=f"netspec model {name!r}",
    )
    model.ir_version = ir_version
    helper.set_model_props(
        model,
        {
            "class_names": json.dumps(
                [str(c) for c in class_names] if class_names is not None else []
            ),
            "spec_name": name,
            "spec_hash": spec_hash,
            "netspec_version": __version__,
            "task": task_of(graph),
            "standardized": "true" if standardizer is not None else "false",
            "target_scaled": "true" if target_scaler is not None else "false",
            **(extra_metadata or {}),
        },
    )
    return model
