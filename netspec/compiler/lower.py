"""Lower spec layers to IR nodes: names, wiring (DAG by `inputs`), normalized attributes.

Each `_lower_<type>` returns the node list for one layer; a fused activation becomes a second
node so every op stays small and each op's kernel and ONNX emitter are found by its name.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import Diagnostic, did_you_mean
from ..ir.graph import INPUT, Node
from ..spec import layers as L
from ..spec.models import Spec
from ..kernels.shapes import per_axis as per_axis_or_error

DEFAULT_INIT = "glorot_uniform"  # weights of dense, conv, rnn, lstm, embedding (as Keras)


def layer_names(spec: Spec, diags: list[Diagnostic]) -> list[str]:
    """Explicit or default ("<type>_<n>") names; duplicates and the reserved "input" are errors."""
    counts: dict[str, int] = {}
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, layer in enumerate(spec.model.layers):
        counts[layer.type] = counts.get(layer.type, 0) + 1
        name = layer.name if layer.name is not None else f"{layer.type}_{counts[layer.type]}"
        path = ("model", "layers", i, "name")
        if name == INPUT or "." in name or not name:
            diags.append(Diagnostic("value", f'"{name}" cannot name a layer ("input" is the model input; no dots)', path))
        elif name in seen:
            diags.append(
                Diagnostic("duplicate-name", f"layer name `{name}` is already used by model.layers[{seen[name]}]; names must be unique", path)
            )
        seen.setdefault(name, i)
        names.append(name)
    return names


def layer_inputs(spec: Spec, names: list[str], diags: list[Diagnostic]) -> list[list[str]]:
    """The input tensors of every layer (default: the previous layer's output)."""
    known = set(names) | {INPUT}
    wiring: list[list[str]] = []
    for i, layer in enumerate(spec.model.layers):
        if layer.inputs is None:
            wiring.append([names[i - 1] if i else INPUT])
            continue
        refs = []
        for k, ref in enumerate(layer.inputs):
            if ref not in known:
                hint = did_you_mean(ref, known, quote='"')
                diags.append(
                    Diagnostic("unknown-input", f'no layer named "{ref}"{hint} (`inputs` names layers, '
                               'earlier or later, or "input" for the model input)',
                               ("model", "layers", i, "inputs", k))
                )
            elif ref == names[i]:
                diags.append(Diagnostic("cycle", f"layer `{ref}` takes its own output as input", ("model", "layers", i, "inputs", k)))
            else:
                refs.append(ref)
        if not layer.inputs:
            diags.append(Diagnostic("value", "`inputs` must name at least one layer", ("model", "layers", i, "inputs")))
        wiring.append(refs)
    return wiring


def _act_nodes(name: str, function: str, alpha: float, src: str, layer: str, path: tuple) -> list[Node]:
    if function == "identity":
        return []
    attrs = {"alpha": alpha} if function == "leaky_relu" else {}
    return [Node(name, function, [src], attrs, (), layer, path)]


def _with_activation(main: Node, activation: str, path: tuple) -> list[Node]:
    if activation == "identity":
        return [main]
    layer = main.name
    main.name = f"{layer}.pre"
    return [main, *_act_nodes(layer, activation, 0.01, main.name, layer, path)]


def _lower_dense(ly: L.Dense, name, ins, path):
    attrs = {"units": ly.units, "use_bias": ly.use_bias, "init": ly.init or DEFAULT_INIT}
    return _with_activation(Node(name, "dense", ins, attrs, (), name, path), ly.activation, path)


def _lower_conv(ly, name, ins, path):
    nd = 1 if ly.type == "conv1d" else 2
    attrs = {
        "nd": nd,
        "filters": ly.filters,
        "kernel": per_axis_or_error(ly.kernel_size, nd, "kernel_size"),
        "strides": per_axis_or_error(ly.strides, nd, "strides"),
        "dilations": per_axis_or_error(ly.dilation, nd, "dilation"),
        "padding": ly.padding,
        "use_bias": ly.use_bias,
        "init": ly.init or DEFAULT_INIT,
    }
    return _with_activation(Node(name, "conv", ins, attrs, (), name, path), ly.activation, path)


def _lower_pool(ly, name, ins, path):
    nd = int(ly.type[-2])
    kernel = per_axis_or_error(ly.pool_size, nd, "pool_size")
    strides = per_axis_or_error(ly.strides, nd, "strides") if ly.strides is not None else kernel
    attrs = {"nd": nd, "kernel": kernel, "strides": strides, "padding": ly.padding}
    return [Node(name, ly.type.split("_pool")[0] + "_pool", ins, attrs, (), name, path)]


def _lower_recurrent(ly, name, ins, path):
    attrs = {"kind": ly.type, "units": ly.units, "return_sequences": ly.return_sequences,
             "init": ly.init or DEFAULT_INIT, "bidirectional": ly.bidirectional}  # fmt: skip
    if ly.type == "rnn":
        attrs["activation"] = ly.activation
    elif ly.type == "lstm":
        attrs["forget_bias"] = ly.forget_bias
    return [Node(name, ly.type, ins, attrs, (), name, path)]


def _lower_repeat(ly, name, ins, path):
    # a named length is read at run time from the model input's axis of that name
    ins = ins + ([INPUT] if isinstance(ly.length, str) else [])
    return [Node(name, "repeat", ins, {"length": ly.length}, (), name, path)]


def _simple(op: str, attrs_of: Callable[[object], dict]):
    def lower(ly, name, ins, path):
        return [Node(name, op, ins, attrs_of(ly), (), name, path)]

    return lower


def _lower_activation(ly: L.ActivationLayer, name, ins, path):
    nodes = _act_nodes(name, ly.function, ly.alpha, ins[0], name, path)
    if not nodes:  # identity: keep a node so the layer's name still names a tensor
        return [Node(name, "dropout", ins, {"rate": 0.0}, (), name, path)]
    return nodes


LOWER = {
    "dense": _lower_dense,
    "activation": _lower_activation,
    "dropout": _simple("dropout", lambda ly: {"rate": ly.rate}),
    "gaussian_noise": _simple("gaussian_noise", lambda ly: {"stddev": ly.stddev}),
    "batch_norm": _simple("batch_norm", lambda ly: {"momentum": ly.momentum, "epsilon": ly.epsilon}),
    "conv1d": _lower_conv,
    "conv2d": _lower_conv,
    "max_pool1d": _lower_pool,
    "max_pool2d": _lower_pool,
    "avg_pool1d": _lower_pool,
    "avg_pool2d": _lower_pool,
    "global_avg_pool": _simple("global_avg_pool", lambda ly: {}),
    "global_max_pool": _simple("global_max_pool", lambda ly: {}),
    "flatten": _simple("flatten", lambda ly: {}),
    "reshape": _simple("reshape", lambda ly: {"shape": list(ly.shape)}),
    "embedding": _simple("embedding", lambda ly: {"vocab_size": ly.vocab_size, "dim": ly.dim, "init": ly.init or DEFAULT_INIT}),
    "rnn": _lower_recurrent,
    "lstm": _lower_recurrent,
    "gru": _lower_recurrent,
    "repeat": _lower_repeat,
    "add": _simple("add", lambda ly: {}),
    "concat": _simple("concat", lambda ly: {"axis": ly.axis}),
}  # fmt: skip
