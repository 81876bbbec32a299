"""The execution plan: built once from the IR, then run for every batch.

At build time it decides the node order, which final activation is fused into the loss (softmax
with cross_entropy, sigmoid with binary_cross_entropy: the loss takes logits), which tensors
need gradients (nothing upstream of frozen layers or the input is differentiated), and binds
each node to its kernels and parameter arrays, so the per-batch loop does no lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import FUSED_OUTPUT, Graph, Node
from ..kernels.registry import RunContext, get_op
from .params import ParamStore



class NonFiniteError(Exception):
    def __init__(self, tensor: str):
        super().__init__(tensor)
        self.tensor = tensor


@dataclass
class _Step:
    node: Node
    forward: object
    backward: object
    params: dict  # role -> array
    grads: dict  # role -> gradient view (trainable roles)
    need_dx: list  # per input
    run_backward: bool
    skip_in_inference: bool
    # A frozen batch_norm runs in inference mode while training (as Keras): its running
    # statistics neither update nor get replaced by batch statistics.
    frozen_norm: bool


class Plan:
    def __init__(self, graph: Graph, store: ParamStore):
        self.graph = graph
        self.store = store
        self.dtype = store.flat.dtype.type
        out = graph.node(graph.output)
        fused = FUSED_OUTPUT.get(graph.loss) == out.op
        # Training computes up to the logits; inference also runs the final activation.
        self.loss_input = out.inputs[0] if fused else out.name
        self.train_nodes = graph.nodes[:-1] if fused and graph.nodes[-1] is out else graph.nodes
        # many-to-many: the loss input keeps the input's time axis (an rnn/lstm with
        # return_sequences), so the loss must skip each sample's padded steps
        shape = graph.shape_of(self.loss_input)
        self.loss_has_time = len(shape) >= 3 and len(graph.input_shape) >= 3 and shape[1] == graph.input_shape[1]
        needs_grad = self._needs_grad(graph)
        self.steps: list[_Step] = []
        for node in graph.nodes:
            op = get_op(node.op)
            if op.forward is None:
                raise NotImplementedError(f"the executor has no kernel for op {node.op!r} yet")
            params = {role: store.values[p.name] for role, p in node.params.items()}
            grads = {role: store.grads[p.name] for role, p in node.params.items() if p.trainable}
            need_dx = [needs_grad.get(t, False) for t in node.inputs]
            frozen_norm = node.op == "batch_norm" and not any(p.trainable for p in node.params.values())
            self.steps.append(
                _Step(node, op.forward, op.backward, params, grads, need_dx,
                      bool(grads) or any(need_dx), op.inference_identity, frozen_norm)
            )  # fmt: skip
        self.n_train = len(self.train_nodes)
        self._caches: list = [None] * self.n_train

    @staticmethod
    def _needs_grad(graph: Graph) -> dict[str, bool]:
        """tensor -> whether any trainable parameter lies upstream of it (so it needs dL/dt)."""
        needs = {graph.input_name: False}
        for node in graph.nodes:
            trainable = any(p.trainable for p in node.params.values())
            needs[node.name] = trainable or any(needs[t] for t in node.inputs)
        return needs

    def loss_mask(self, lengths, steps: int):
        """(batch, steps) bool mask of real steps for the loss, or None (no lengths, or an output
        without a time axis: many-to-one already reads each sample's last real step)."""
        if lengths is None or not self.loss_has_time:
            return None
        return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]

    def forward_train(self, x: np.ndarray, rng: np.random.Generator, lengths=None, check_finite=False) -> np.ndarray:
        """Training-mode forward to the loss input (logits when the output activation is fused)."""
        ctx = RunContext(training=True, rng=rng, dtype=self.dtype, lengths=lengths)
        frozen_ctx = RunContext(training=False, rng=None, dtype=self.dtype, lengths=lengths)
        values = {self.graph.input_name: x}
        for k in range(self.n_train):
            st = self.steps[k]
            c = frozen_ctx if st.frozen_norm else ctx
            y, self._caches[k] = st.forward(st.node.attrs, [values[t] for t in st.node.inputs], st.params, c)
            if check_finite and not np.isfinite(y).all():
                raise NonFiniteError(st.node.name)
            values[st.node.name] = y
        self._ctx, self._frozen_ctx = ctx, frozen_ctx
        return values[self.loss_input]

    def backward(self, dy: np.ndarray) -> None:
        """Backpropagate dL/d(loss input); fills the store's flat gradient buffer."""
        grads = {self.loss_input: dy}
        for k in range(self.n_train - 1, -1, -1):
            st = self.steps[k]
            g = grads.pop(st.node.name, None)
            if not st.run_backward:
                continue
            if g is None:  # this node does not reach the loss
                for arr in st.grads.values():
                    arr.fill(0)
                continue
            dxs = st.backward(st.node.attrs, g, self._caches[k], st.params, st.grads, st.need_dx,
                              self._frozen_ctx if st.frozen_norm else self._ctx)
            for t, dx, need in zip(st.node.inputs, dxs, st.need_dx):
                if need and dx is not None:
                    grads[t] = grads[t] + dx if t in grads else dx
        self._caches = [None] * self.n_train

    def _infer(self, x: np.ndarray, lengths, steps, out: str) -> np.ndarray:
        ctx = RunContext(training=False, rng=None, dtype=self.dtype, lengths=lengths)
        values = {self.graph.input_name: x}
        for st in steps:
            ins = [values[t] for t in st.node.inputs]
            if st.skip_in_inference:
                values[st.node.name] = ins[0]
                continue
            values[st.node.name], _ = st.forward(st.node.attrs, ins, st.params, ctx)
        return values[out]

    def predict(self, x: np.ndarray, lengths=None) -> np.ndarray:
        """Inference-mode forward through the whole graph (final activation included)."""
        return self._infer(x, lengths, self.steps, self.graph.output)

    def logits(self, x: np.ndarray, lengths=None) -> np.ndarray:
        """Inference-mode forward to the loss input (for validation loss)."""
        return self._infer(x, lengths, self.steps[: self.n_train], self.loss_input)
