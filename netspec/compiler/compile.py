"""spec -> IR: wiring, topological order, lowering, shape inference, parameters, checks.

All independent problems are collected and raised together as one SpecError; a layer whose
inputs failed is skipped rather than reported again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Diagnostic, SpecError
from ..ir.graph import INPUT, INPUT_TIME, RECURRENT_OPS, Graph, Node, Param
from ..kernels.registry import ShapeError, get_op
from ..spec import locate
from ..spec.models import Spec
from .checks import check_classes, check_data, check_target_lengths, check_expect, check_loss_output, check_metrics, check_monitor, check_resources
from .cost import Cost, estimate, optimizer_slots
from .initial_state import initial_states, split_lstm_state, state_tensor
from .lower import LOWER, layer_inputs, layer_names

SEQUENCE_OPS = ("rnn", "lstm", "gru", "embedding", "repeat")
# Ops that keep axis 1 of their (first) input as axis 1 of their output, step for step.
PER_STEP_OPS = ("dense", "dropout", "gaussian_noise", "batch_norm", "embedding", "identity", "relu",
                "leaky_relu", "sigmoid", "tanh", "softmax", "add", "concat")  # fmt: skip
CHANNELS_FIRST_OPS = ("conv", "max_pool", "avg_pool", "flatten", "reshape", "global_avg_pool", "global_max_pool")


@dataclass
class Compiled:
    spec: Spec
    graph: Graph
    cost: Cost


def _topo_order(names: list[str], wiring: list[list[str]], diags: list[Diagnostic]) -> list[int]:
    """Layer indices in an order where every layer follows its inputs; cycles are errors."""
    index = {n: i for i, n in enumerate(names)}
    state: dict[int, int] = {}  # 1 visiting, 2 done
    order: list[int] = []

    def visit(i: int, stack: list[int]) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            cycle = stack[stack.index(i):] + [i]
            diags.append(
                Diagnostic("cycle", "the layers form a cycle: " + " -> ".join(names[k] for k in cycle),
                           ("model", "layers", i, "inputs"))
            )
            return
        state[i] = 1
        for ref in wiring[i]:
            if ref != INPUT and ref in index:
                visit(index[ref], stack + [i])
        state[i] = 2
        order.append(i)

    for i in range(len(names)):
        visit(i, [])
    return order


def _unused(names: list[str], wiring: list[list[str]], diags: list[Diagnostic]) -> None:
    used = {ref for refs in wiring for ref in refs}
    for i, name in enumerate(names[:-1]):
        if name not in used:
            diags.append(
                Diagnostic("unused-layer", f"layer `{name}` does not reach the output (the last layer); "
                           "remove it or name it in a later layer's `inputs`", ("model", "layers", i))
            )


def _features_last(spec: Spec, wiring: list[list[str]]) -> bool:
    """Whether the model input is (time, features) rather than channels-first."""
    first_dim = spec.model.input_shape[0]
    consumers = [spec.model.layers[i].type for i, refs in enumerate(wiring) if INPUT in refs]
    return first_dim == "time" or any(t in RECURRENT_OPS for t in consumers)


def _make_params(node: Node, layer, specs: dict) -> dict[str, Param]:
    out = {}
    weights = ("dense", "conv", "rnn", "lstm", "gru", "embedding")
    for role, ps in specs.items():
        penal = ps.kind == "weight" and node.op in weights
        out[role] = Param(
            name=f"{node.layer}.{role}", shape=ps.shape, init=ps.init, fan_in=ps.fan_in,
            fan_out=ps.fan_out, kind=ps.kind, fill=ps.fill, trainable=layer.trainable and ps.kind != "state",
            l1=getattr(layer, "l1", 0.0) if penal else 0.0, l2=getattr(layer, "l2", 0.0) if penal else 0.0, regularized=penal,
        )  # fmt: skip
    return out


def build_graph(spec: Spec) -> tuple[Graph, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    names = layer_names(spec, diags)
    wiring = layer_inputs(spec, names, diags)
    if diags:
        return None, diags
    decoders = initial_states(spec, names, diags)  # a bad reference: that layer is skipped
    failed = {i for i, ly in enumerate(spec.model.layers) if getattr(ly, "initial_state", None) and i not in decoders}
    for dec, enc in decoders.items():  # the decoder runs after its encoder
        wiring[dec] = wiring[dec] + [names[enc]]
    encoders = {enc for enc in decoders.values() if spec.model.layers[enc].type == "lstm"}
    _unused(names, wiring, diags)
    order = _topo_order(names, wiring, diags)
    if any(d.code == "cycle" for d in diags):
        return None, diags

    input_shape = ("batch", *spec.model.input_shape)
    shapes = {INPUT: input_shape}
    dtypes = {INPUT: spec.model.input_dtype}
    seq = {INPUT: _features_last(spec, wiring)}
    tags = {INPUT: INPUT_TIME}
    nodes: list[Node] = []
    for i in order:
        layer, path = spec.model.layers[i], ("model", "layers", i)
        if i in failed or any(ref not in shapes for ref in wiring[i]):
            continue  # this layer's initial_state or an input failed: reported already
        try:
            ins = list(wiring[i])
            if i in decoders:
                ins[-1] = state_tensor(spec, names, decoders[i])
            lowered = LOWER[layer.type](layer, names[i], ins, path)
            if i in encoders:
                lowered = split_lstm_state(lowered)
            for node in lowered:
                _infer_node(node, layer, shapes, dtypes, seq)
                node.time_axis = _time_axis(node, shapes, tags)
                tags[node.name] = node.time_axis
        except ShapeError as exc:
            key = (exc.key,) if exc.key and exc.key in type(layer).model_fields else ()
            diags.append(Diagnostic("shape", str(exc), path + key))
            continue
        nodes.extend(lowered)
    graph = Graph(spec.name, input_shape, spec.model.input_dtype, nodes, names[-1], spec.train.loss)
    return graph, diags


def _infer_node(node: Node, layer, shapes: dict, dtypes: dict, seq: dict) -> None:
    op = get_op(node.op)
    ins = [shapes[t] for t in node.inputs]
    single = node.op not in ("add", "concat")
    extra = 1 if node.op == "repeat" and isinstance(node.attrs["length"], str) else 0
    extra += 1 if node.op in RECURRENT_OPS and getattr(layer, "initial_state", None) else 0
    if single and len(ins) != 1 + extra:
        raise ShapeError(f"a {layer.type} layer takes exactly one input, got {len(ins) - extra}", "inputs")
    in_dtype = dtypes[node.inputs[0]]
    if node.op == "embedding" and in_dtype != "int64":
        raise ShapeError('an embedding takes token ids: set model.input_dtype = "int64" and feed it the input')
    if node.op != "embedding" and in_dtype == "int64":
        raise ShapeError("int64 token ids can only feed an embedding layer")
    features_last = seq[node.inputs[0]]
    rank = len(ins[0])
    if node.op == "batch_norm":
        node.attrs["axis"] = rank - 1 if features_last or rank == 2 else 1
    elif node.op in ("global_avg_pool", "global_max_pool"):
        node.attrs["axes"] = tuple(range(1, rank - 1)) if features_last else tuple(range(2, rank))
    if op.resolve is not None:
        node.attrs = op.resolve(node.attrs, ins)
    node.shape = op.infer(node.attrs, ins)
    node.params = _make_params(node, layer, op.params(node.attrs, ins))
    node.dtype = "float32"
    node.features_last = True if node.op in SEQUENCE_OPS else (False if node.op in CHANNELS_FIRST_OPS else features_last)
    shapes[node.name], dtypes[node.name], seq[node.name] = node.shape, node.dtype, node.features_last


def _time_axis(node: Node, shapes: dict, tags: dict) -> str | None:
    """The origin of axis 1 of `node`'s output when it is a time axis (see Node.time_axis)."""
    if len(node.shape) < 3:
        return None
    if node.op in RECURRENT_OPS:
        return tags.get(node.inputs[0]) if node.attrs["return_sequences"] else None
    if node.op == "repeat":  # a new axis; one as long as the input's time axis is that axis
        return INPUT_TIME if len(node.inputs) > 1 and node.attrs["input_axis"] == 1 else f"{node.layer}.time"
    if node.op in PER_STEP_OPS:
        if node.op == "concat" and node.attrs.get("axis", -1) % len(node.shape) == 1:
            return None
        found = {tags.get(t) for t in node.inputs}
        return found.pop() if len(found) == 1 else None
    return None


def compile_spec(spec: Spec, batch: int = 1, dims: dict[str, int] | None = None) -> Compiled:
    """Compile a validated spec. Raises SpecError (located) on any problem."""
    graph, diags = build_graph(spec)
    built = graph is not None and not diags
    cost = None
    # Checks that need only the spec, or only the output layer, run even when other layers
    # failed, so one pass reports every independent problem.
    diags += check_metrics(spec) + check_monitor(spec) + check_data(spec)
    if graph is not None and any(n.name == graph.output for n in graph.nodes):
        diags += check_loss_output(spec, graph) + check_classes(spec, graph) + check_target_lengths(spec, graph)
    if built:
        cost = estimate(graph, batch, dims or {}, spec.train.dtype, optimizer_slots(spec.train.optimizer))
        diags += check_resources(graph, cost, spec)
        diags += check_expect(spec, graph, cost)
    if diags:
        raise SpecError(locate(spec, diags))
    return Compiled(spec, graph, cost)
