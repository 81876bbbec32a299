"""The execution plan: built once from the IR, then run for every batch.

At build time it decides the node order, which final activation is fused into the loss (softmax
with cross_entropy, sigmoid with binary_cross_entropy: the loss takes logits), which tensors
need gradients (nothing upstream of frozen layers or the input is differentiated), and binds
each node to its kernels and parameter arrays, so the per-batch loop does no lookups.

Each step also owns its run contexts with a scratch workspace (kernels/workspace.py), so its
kernels reuse their buffers from batch to batch instead of faulting in fresh pages. The steps
whose output the plan hands out (the loss input, the model output, and the views or identities
in front of them) get no workspace: what the caller keeps is always a fresh array.

Inference does less than training: a relu read only by itself runs in place on its producer's
output, and after a conv or dense layer that kernel applies it (the conv while copying its
output out; `RunContext.relu_output`), so the relu step passes its input through.

Both modes move a relu read only by a max_pool behind the pool (the pool kernel applies it to
its output, the relu step passes through): on k x k windows that is k^2 times fewer elements,
both ways (measured at inference, cnn_mnist: Model.predict 0.94x the time of the relu fused
into the conv). The values are the same, max(relu(window)) = relu(max(window)), and so are the
gradients: where the window's max is > 0 both orders send dy to the same first maximum, and
otherwise both send 0 (before, relu's mask zeroes the winner; now the pool's mask on y > 0).

A conv that only such a max_pool reads (through that relu or directly) runs all of them as ONE
step (kernels/conv_pool.py): the conv pools each chunk of its output while it is in cache and
never writes the whole output; the relu and pool steps pass through. Measured against the
separate steps (bench/bench_ab.py): cnn_mnist Model.predict 0.83-0.85x the time, 0.71-0.77x in
4096-row batches, training the same within noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import FUSED_OUTPUT, INPUT_TIME, Graph, Node
from ..kernels import conv_pool
from ..kernels.activations import relu
from ..kernels.padding import zero_padded_steps
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
    # A recurrent layer over the input's time axis: the only kind of step given the lengths.
    takes_lengths: bool
    train_ctx: RunContext
    infer_ctx: RunContext
    infer_ws: dict | None
    # inference applies this relu in place on its producer's output (read by nothing else),
    # or a conv, dense or max_pool kernel applies it (relu_fused: this step passes through)
    relu_in_place: bool
    relu_fused: bool = False
    # what forward_train and backward run: the kernels, or a pass-through for a relu that a
    # max_pool applies (see the module docstring); inference and inspection use the kernels
    train_forward: object = None
    train_backward: object = None
    infer_forward: object = None  # what inference runs: the kernel, or a fused or pass-through step


# Ops whose output may be a view of (or the very array of) their first input.
_PASS_THROUGH = {"flatten", "reshape"}
# Ops whose output is an array of their own (fresh or their step's scratch), never a view
_OWN_OUTPUT = {"dense", "conv"}
# Ops whose kernel applies a following relu itself at inference (RunContext.relu_output)
_RELU_FUSES = {"conv", "dense"}
# Ops whose kernel applies the relu in front of it, in both modes (it commutes with them)
_RELU_COMMUTES = {"max_pool"}


def _pass_forward(attrs, xs, params, ctx):
    return xs[0], None


def _pass_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    return [dy]


class Plan:
    # Inference batches up to this many rows reuse their buffers; bigger ones (evaluation in
    # chunks of 4096) allocate fresh arrays and free each as soon as its last reader is done,
    # so holding them would raise peak memory for little gain.
    INFER_REUSE_ROWS = 1024

    def __init__(self, graph: Graph, store: ParamStore):
        self.graph = graph
        self.store = store
        self.dtype = store.flat.dtype.type
        out = graph.node(graph.output)
        fused = FUSED_OUTPUT.get(graph.loss) == out.op
        # Training computes up to the logits; inference also runs the final activation.
        self.loss_input = out.inputs[0] if fused else out.name
        self.train_nodes = graph.nodes[:-1] if fused and graph.nodes[-1] is out else graph.nodes
        # many-to-many: when the loss input's axis 1 is the input's time axis, the loss skips each
        # sample's padded steps; any other time axis (a decoder's) is masked by target lengths
        self.loss_time_axis = graph.time_axis_of(self.loss_input)
        self.loss_has_steps = len(graph.shape_of(self.loss_input)) >= 3
        needs_grad = self._needs_grad(graph)
        fresh_train = self._handed_out(graph, self.loss_input)
        fresh_infer = fresh_train | self._handed_out(graph, graph.output)
        readers: dict[str, int] = {}
        for node in graph.nodes:
            for t in node.inputs:
                readers[t] = readers.get(t, 0) + 1
        self.steps: list[_Step] = []
        for node in graph.nodes:
            op = get_op(node.op)
            if op.forward is None:
                raise NotImplementedError(f"the executor has no kernel for op {node.op!r} yet")
            params = {role: store.values[p.name] for role, p in node.params.items()}
            grads = {role: store.grads[p.name] for role, p in node.params.items() if p.trainable}
            need_dx = [needs_grad.get(t, False) for t in node.inputs]
            frozen_norm = node.op == "batch_norm" and not any(p.trainable for p in node.params.values())
            train_ws = None if node.name in fresh_train else {}
            train_ctx = RunContext(training=not frozen_norm, dtype=self.dtype, ws=train_ws)
            infer_ws = None if node.name in fresh_infer else {}
            src = node.inputs[0] if node.inputs else graph.input_name
            in_place = (node.op == "relu" and node.name not in fresh_infer and readers.get(src) == 1
                        and src != graph.input_name and graph.node(src).op in _OWN_OUTPUT)  # fmt: skip
            self.steps.append(
                _Step(node, op.forward, op.backward, params, grads, need_dx,
                      bool(grads) or any(need_dx), op.inference_identity, frozen_norm, graph.takes_lengths(node),
                      train_ctx, RunContext(training=False, dtype=self.dtype), infer_ws, in_place)
            )  # fmt: skip
        by_name = {st.node.name: st for st in self.steps}
        train_names = {n.name for n in self.train_nodes}
        for st in self.steps:
            st.train_forward, st.train_backward, st.infer_forward = st.forward, st.backward, st.forward
        for reader in self.steps:  # a max_pool applies the relu it alone reads, in either mode
            src = by_name.get(reader.node.inputs[0]) if reader.node.inputs else None
            if (reader.node.op not in _RELU_COMMUTES or src is None or src.node.op != "relu"
                    or readers.get(src.node.name) != 1):  # fmt: skip
                continue
            if src.node.name not in fresh_infer:
                src.relu_fused, src.relu_in_place = True, False
                reader.infer_ctx.relu_output = True
            if reader.node.name in train_names and src.node.name not in fresh_train:
                src.train_forward, src.train_backward = _pass_forward, _pass_backward
                reader.train_ctx.relu_output = True
        for pool in self.steps:  # a conv only a max_pool reads (maybe through that relu): one step
            self._fuse_conv_pool(pool, by_name, readers, fresh_train, fresh_infer, train_names)
        for st in self.steps:  # else a conv or dense kernel writes relu(y) itself at inference
            if st.relu_in_place and by_name[st.node.inputs[0]].node.op in _RELU_FUSES:
                st.relu_fused = True
                by_name[st.node.inputs[0]].infer_ctx.relu_output = True
        self.n_train = len(self.train_nodes)
        self._caches: list = [None] * self.n_train
        self._ws_mode = ""  # whose scratch buffers are held: "train", "infer" or none yet
        # tensors whose last inference reader is step k (freed right after it)
        last: dict[str, int] = {}
        for k, node in enumerate(graph.nodes):
            for t in node.inputs:
                last[t] = k
        self._dead_after: list[list[str]] = [[] for _ in graph.nodes]
        for t, k in last.items():
            self._dead_after[k].append(t)

    @staticmethod
    def _fuse_conv_pool(pool: _Step, by_name, readers, fresh_train, fresh_infer, train_names) -> None:
        """conv -> [relu] -> max_pool, each read only by the next: the conv step runs all three
        (kernels/conv_pool.py), the relu and pool steps pass through, in each mode where none of
        the three hands its output out and the relu (if any) already went behind the pool."""
        if pool.node.op != "max_pool":
            return
        relu = by_name.get(pool.node.inputs[0])
        conv = relu
        if relu is not None and relu.node.op == "relu":
            conv = by_name.get(relu.node.inputs[0]) if readers.get(relu.node.name) == 1 else None
        else:
            relu = None
        if (conv is None or conv.node.op != "conv" or readers.get(conv.node.name) != 1
                or not conv_pool.fusable(conv.node.attrs, pool.node.attrs)):  # fmt: skip
            return
        names = {st.node.name for st in (conv, relu, pool) if st is not None}
        kernels = conv_pool.ConvPool(pool.node.attrs, relu is not None)
        if not names & fresh_infer and (relu is None or relu.relu_fused):
            conv.infer_forward, pool.infer_forward = kernels.forward, _pass_forward
        if names <= train_names and not names & fresh_train and (relu is None or relu.train_forward is _pass_forward):
            conv.train_forward, conv.train_backward = kernels.forward, kernels.backward
            pool.train_forward, pool.train_backward = _pass_forward, _pass_backward

    @staticmethod
    def _handed_out(graph: Graph, tensor: str) -> set[str]:
        """Nodes whose output array may be the one the plan returns for `tensor`."""
        names: set[str] = set()
        while tensor != graph.input_name:
            node = graph.node(tensor)
            names.add(node.name)
            if node.op not in _PASS_THROUGH and not get_op(node.op).inference_identity:
                break
            tensor = node.inputs[0]
        return names

    @staticmethod
    def _needs_grad(graph: Graph) -> dict[str, bool]:
        """tensor -> whether any trainable parameter lies upstream of it (so it needs dL/dt)."""
        needs = {graph.input_name: False}
        for node in graph.nodes:
            trainable = any(p.trainable for p in node.params.values())
            needs[node.name] = trainable or any(needs[t] for t in node.inputs)
        return needs

    def loss_mask(self, lengths, steps: int, target_lengths=None):
        """(batch, steps) bool mask of real steps for the loss, or None (no lengths, or an output
        without a time axis: many-to-one already reads each sample's last real step). Outputs
        over the input's time axis use `lengths`; any other time axis `target_lengths`."""
        if not self.loss_has_steps:
            return None
        lens = lengths if self.loss_time_axis == INPUT_TIME else target_lengths
        if lens is None:
            return None
        return np.arange(steps)[None, :] < np.asarray(lens)[:, None]

    def _input(self, x: np.ndarray, lengths) -> np.ndarray:
        return zero_padded_steps(x, lengths, self.graph.lengths_axis)

    def forward_train(self, x: np.ndarray, rng: np.random.Generator, lengths=None, check_finite=False) -> np.ndarray:
        """Training-mode forward to the loss input (logits when the output activation is fused)."""
        self._hold_workspaces("train")
        values = {self.graph.input_name: self._input(x, lengths)}
        for k in range(self.n_train):
            st = self.steps[k]
            c = st.train_ctx
            c.rng, c.lengths = (None if st.frozen_norm else rng), (lengths if st.takes_lengths else None)
            y, self._caches[k] = st.train_forward(st.node.attrs, [values[t] for t in st.node.inputs], st.params, c)
            if check_finite and not np.isfinite(y).all():
                raise NonFiniteError(st.node.name)
            values[st.node.name] = y
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
            dxs = st.train_backward(st.node.attrs, g, self._caches[k], st.params, st.grads, st.need_dx, st.train_ctx)
            for t, dx, need in zip(st.node.inputs, dxs, st.need_dx):
                if need and dx is not None:
                    grads[t] = grads[t] + dx if t in grads else dx
        self._caches = [None] * self.n_train

    def _hold_workspaces(self, mode: str) -> None:
        """Drop the other mode's scratch buffers when the plan switches between training and
        inference (once or twice an epoch), so peak memory is the larger mode's buffers, not
        both: measured on cnn_mnist (batch 64, 200-row evaluations) holding both raised the
        peak RSS of `netspec train` by ~32 MB (361.9 vs 329.8 MB, bench/bench_memory.py). Live
        caches keep their own references."""
        if self._ws_mode == mode:
            return
        for st in self.steps:
            ws = st.infer_ws if mode == "train" else st.train_ctx.ws
            if ws:
                ws.clear()
        self._ws_mode = mode

    def _infer(self, x: np.ndarray, lengths, steps, out: str) -> np.ndarray:
        self._hold_workspaces("infer")
        reuse = len(x) <= self.INFER_REUSE_ROWS
        values = {self.graph.input_name: self._input(x, lengths)}
        for k, st in enumerate(steps):
            ins = [values[t] for t in st.node.inputs]
            if st.skip_in_inference or st.relu_fused:
                values[st.node.name] = ins[0]
            elif st.relu_in_place:
                values[st.node.name] = relu(ins[0], ins[0])
            else:
                c = st.infer_ctx
                c.lengths, c.ws = (lengths if st.takes_lengths else None), (st.infer_ws if reuse else None)
                values[st.node.name], _ = st.infer_forward(st.node.attrs, ins, st.params, c)
            for t in self._dead_after[k]:
                if t != out:
                    del values[t]
        return values[out]

    def predict(self, x: np.ndarray, lengths=None) -> np.ndarray:
        """Inference-mode forward through the whole graph (final activation included)."""
        return self._infer(x, lengths, self.steps, self.graph.output)

    def logits(self, x: np.ndarray, lengths=None) -> np.ndarray:
        """Inference-mode forward to the loss input (for validation loss)."""
        return self._infer(x, lengths, self.steps[: self.n_train], self.loss_input)
