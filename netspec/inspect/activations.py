"""Intermediate activations and gradients with respect to the input.

Both run the executor's own kernels in inference mode (dropout and noise are identities,
batch norm uses its running statistics), so what they show is what `predict` computes. The
backward pass here asks every kernel for its input gradient and gives it scratch parameter
gradients, so the model's gradient buffer is left untouched.
"""

from __future__ import annotations

import numpy as np

from ..errors import NetspecError, did_you_mean
from ..kernels.registry import RunContext

# Inference forwards may keep no cache for backward (lstm, max_pool), so when a backward follows,
# ops run their training forward, which computes the same function and keeps one; except batch
# norm, whose training mode would use batch statistics (and update the running ones). Dropout
# and noise are skipped as at inference.
INFERENCE_MODE_OPS = ("batch_norm",)


def _names(plan) -> list[str]:
    return [st.node.name for st in plan.steps]


def check_layer(plan, name: str) -> None:
    names = _names(plan)
    if name not in names:
        raise NetspecError(f"no layer named {name!r}{did_you_mean(name, names, quote=chr(39))} "
                           f"(layers: {', '.join(names)})")  # fmt: skip


def _forward(plan, x: np.ndarray, lengths, stop: str | None, keep_caches: bool):
    """Inference-mode forward; returns (values by tensor name, caches by step index)."""
    ctx = RunContext(training=False, rng=None, dtype=plan.dtype, lengths=lengths)
    caching = RunContext(training=True, rng=None, dtype=plan.dtype, lengths=lengths)
    values = {plan.graph.input_name: x}
    caches: dict[int, object] = {}
    for k, st in enumerate(plan.steps):
        ins = [values[t] for t in st.node.inputs]
        if st.skip_in_inference:
            values[st.node.name] = ins[0]
        else:
            c = caching if keep_caches and st.node.op not in INFERENCE_MODE_OPS else ctx
            values[st.node.name], cache = st.forward(st.node.attrs, ins, st.params, c)
            if keep_caches:
                caches[k] = cache
        if st.node.name == stop:
            break
    return values, caches, ctx


def activations(plan, x: np.ndarray, layers: list[str] | None = None, lengths=None) -> dict[str, np.ndarray]:
    """{layer name: its output} for prepared (standardized) inputs x; default: every layer."""
    wanted = list(layers) if layers is not None else [n for n in _names(plan) if not n.endswith(".pre")]
    for name in wanted:
        check_layer(plan, name)
    last = max(_names(plan).index(n) for n in wanted) if wanted else -1
    values, _, _ = _forward(plan, x, lengths, _names(plan)[last] if wanted else None, False)
    return {n: values[n] for n in wanted}


def unit_seed(y: np.ndarray, unit, features_last: bool = False) -> np.ndarray:
    """dObjective/dy for the objective "unit of y, per example": an int picks a feature or
    channel (a channel's mean over positions or time steps), a tuple one element of a sample."""
    dy = np.zeros_like(y)
    if isinstance(unit, (int, np.integer)):
        axis = y.ndim - 1 if features_last else 1
        n = y.shape[axis]
        if not 0 <= unit < n:
            raise NetspecError(f"unit {unit} is out of range: this layer has {n} units (0..{n - 1})")
        index = [slice(None)] * y.ndim
        index[axis] = int(unit)
        dy[tuple(index)] = 1.0 / max(1, y[tuple(index)][0].size)
    else:
        index = tuple(int(i) for i in unit)
        if len(index) != y.ndim - 1 or any(not 0 <= i < d for i, d in zip(index, y.shape[1:])):
            raise NetspecError(f"unit {index} does not index this layer's output of shape {y.shape[1:]} per example")
        dy[(slice(None), *index)] = 1.0
    return dy


def input_gradient(plan, x: np.ndarray, unit=0, layer: str | None = None, lengths=None) -> np.ndarray:
    """d(unit of `layer`'s output)/d(input) for each example (examples do not interact in
    inference mode). `layer` defaults to the model's output (probabilities, not logits)."""
    layer = layer or plan.graph.output
    features_last = plan.graph.node(layer).features_last if layer in _names(plan) else False
    return backprop_to_input(plan, x, layer, lambda y: unit_seed(y, unit, features_last), lengths)


def backprop_to_input(plan, x: np.ndarray, layer: str, seed, lengths=None) -> np.ndarray:
    """The input gradient of sum(seed(y) * y), y = `layer`'s output (seed gives dObjective/dy)."""
    check_layer(plan, layer)
    if plan.graph.input_dtype == "int64":
        raise NetspecError("the input holds token ids (int64): it has no gradient; pick a layer after the embedding")
    values, caches, ctx = _forward(plan, x, lengths, layer, True)
    caching = RunContext(training=True, rng=None, dtype=plan.dtype, lengths=lengths)
    grads = {layer: seed(values[layer])}
    for k in range(_names(plan).index(layer), -1, -1):
        st = plan.steps[k]
        g = grads.pop(st.node.name, None)
        if g is None:
            continue
        if st.skip_in_inference:
            dxs = [g]
        else:
            scratch = {role: np.empty_like(v) for role, v in st.grads.items()}
            need = [True] * len(st.node.inputs)
            c = ctx if st.node.op in INFERENCE_MODE_OPS else caching
            dxs = st.backward(st.node.attrs, g, caches[k], st.params, scratch, need, c)
        for t, dx in zip(st.node.inputs, dxs):
            if dx is not None:
                grads[t] = grads[t] + dx if t in grads else dx
    return grads.get(plan.graph.input_name, np.zeros_like(x))
