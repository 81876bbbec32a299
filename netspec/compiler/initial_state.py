"""`initial_state = "encoder"`: an encoder's final state starts a decoder (same type and units).

The decoder node gets the state as a second input. For rnn and gru the state is the encoder's
many-to-one output itself. An lstm's state is [h_T, c_T]: the encoder lowers to
`<encoder>.state` (the lstm with state_output, (batch, 2H)) and `<encoder>` (a slice of its
first H features, the usual output), so the layer's name still names h_T.
"""

from __future__ import annotations

from ..errors import Diagnostic, did_you_mean
from ..ir.graph import Node
from ..spec.models import Spec

RECURRENT = ("rnn", "lstm", "gru")


def initial_states(spec: Spec, names: list[str], diags: list[Diagnostic]) -> dict[int, int]:
    """{decoder layer index: encoder layer index}; a bad reference is a located error."""
    index = {n: i for i, n in enumerate(names)}
    out = {}
    for i, ly in enumerate(spec.model.layers):
        ref = getattr(ly, "initial_state", None)
        if ref is None:
            continue
        path = ("model", "layers", i, "initial_state")
        if ref not in index:
            diags.append(Diagnostic("unknown-input", f'no layer named "{ref}"{did_you_mean(ref, names, quote=chr(34))} '
                                    "(initial_state names an earlier rnn, lstm or gru layer)", path))  # fmt: skip
            continue
        enc = spec.model.layers[index[ref]]
        problem = None
        if index[ref] == i:
            problem = "a layer cannot start from its own state"
        elif enc.type != ly.type or enc.units != ly.units:
            what = f"a {enc.type}" + (f" with {enc.units} units" if enc.type in RECURRENT else "")
            problem = f"`{ref}` is {what}, but this {ly.type} has {ly.units} units: the encoder must be a {ly.type} with {ly.units} units"
        elif enc.return_sequences or enc.bidirectional or ly.bidirectional:
            problem = (f"the encoder `{ref}` and this layer must be one-directional, and the encoder must have "
                       "return_sequences = false (its final state is read)")  # fmt: skip
        if problem:
            diags.append(Diagnostic("value", problem, path))
        else:
            out[i] = index[ref]
    return out


def state_tensor(spec: Spec, names: list[str], enc: int) -> str:
    return f"{names[enc]}.state" if spec.model.layers[enc].type == "lstm" else names[enc]


def split_lstm_state(lowered: list[Node]) -> list[Node]:
    """An lstm encoder read by a decoder: `<name>.state` ([h, c]) and `<name>` (its h)."""
    node = lowered[0]
    name = node.name
    node.name, node.attrs = f"{name}.state", {**node.attrs, "state_output": True}
    units = node.attrs["units"]
    return [node, Node(name, "slice", [node.name], {"start": 0, "stop": units}, (), node.layer, node.path)]
