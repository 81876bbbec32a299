"""netspec IR -> PyTorch: the same architecture as a `torch.nn.Module`, built node by node from
`netspec.compile(spec).graph`, for the reference runs of bench/quality_vs_torch.py.

Every op of the IR is covered except recurrent layers over padded sequences (lengths) and rnn
activations other than tanh/relu. The module returns what netspec's loss consumes: the logits
when a final softmax (cross_entropy) or sigmoid (binary_cross_entropy) is fused into the loss,
the output itself otherwise. `init_like_spec` draws every parameter from the spec's initializer
(glorot_uniform, he_uniform, forget bias 1, ...) with a torch generator: the same distributions
as netspec, independent draws.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from netspec.ir.graph import Graph, Node, Param
from netspec.kernels.init import NORMAL, UNIFORM
from netspec.training.losses import FUSED_OUTPUT


def _torch_pads(pads: tuple[int, ...], nd: int) -> list[int]:
    """netspec/ONNX pads (begins..., ends...) -> F.pad's (last axis first) pairs."""
    out: list[int] = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[nd + i]]
    return out


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class GaussianNoise(nn.Module):
    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x):
        return x + self.std * torch.randn_like(x) if self.training and self.std else x


class Padded(nn.Module):
    """Explicit (possibly asymmetric) padding, then an op with no padding of its own."""

    def __init__(self, pads: tuple[int, ...], nd: int, inner: nn.Module, value: float = 0.0):
        super().__init__()
        self.pads, self.inner, self.value = _torch_pads(pads, nd), inner, value

    def forward(self, x):
        if any(self.pads):
            x = F.pad(x, self.pads, value=self.value)
        return self.inner(x)


class AvgPoolExcludingPad(nn.Module):
    """Average over the real (unpadded) elements of each window (ONNX count_include_pad = 0)."""

    def __init__(self, nd: int, kernel, strides, pads):
        super().__init__()
        self.pool = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[nd - 1](kernel, strides)
        self.pads = _torch_pads(pads, nd)

    def forward(self, x):
        if not any(self.pads):
            return self.pool(x)
        ones = torch.ones_like(x[:1, :1])
        return self.pool(F.pad(x, self.pads)) / self.pool(F.pad(ones, self.pads))


class ChannelBatchNorm(nn.Module):
    """Batch norm over the channel axis `axis` (1 for channels-first, last for features-last)."""

    def __init__(self, channels: int, axis: int, rank: int, momentum: float, eps: float):
        super().__init__()
        self.axis = axis % rank
        # netspec's momentum weights the old running value (Keras); PyTorch's weights the new one
        self.bn = nn.BatchNorm1d(channels, eps=eps, momentum=1 - momentum)

    def forward(self, x):
        if x.ndim == 2:
            return self.bn(x)
        y = x.movedim(self.axis, 1)
        shape = y.shape
        return self.bn(y.reshape(shape[0], shape[1], -1)).reshape(shape).movedim(1, self.axis)


class Recurrent(nn.Module):
    def __init__(self, node: Node, n_in: int):
        super().__init__()
        a = node.attrs
        if a["kind"] == "lstm":
            self.rnn = nn.LSTM(n_in, a["units"], batch_first=True)
        else:
            act = a.get("activation", "tanh")
            if act not in ("tanh", "relu"):
                raise NotImplementedError(f"rnn activation {act!r} has no torch.nn.RNN counterpart")
            self.rnn = nn.RNN(n_in, a["units"], nonlinearity=act, batch_first=True)
        self.sequences = a["return_sequences"]

    def forward(self, x):
        y, _ = self.rnn(x)
        return y if self.sequences else y[:, -1]


def _module(node: Node, in_shapes: list) -> tuple[nn.Module, dict[str, str]]:
    """The torch module of one node and its parameter map: netspec role -> torch attribute path."""
    op, a, x = node.op, node.attrs, in_shapes[0]
    if op == "dense":
        return nn.Linear(x[-1], a["units"], bias=a["use_bias"]), {
            "weight": "weight",
            "bias": "bias",
        }
    if op in ("relu", "sigmoid", "tanh"):
        return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[op](), {}
    if op == "leaky_relu":
        return nn.LeakyReLU(a["alpha"]), {}
    if op == "softmax":
        return nn.Softmax(dim=-1), {}
    if op == "dropout":
        return nn.Dropout(a["rate"]), {}
    if op == "gaussian_noise":
        return GaussianNoise(a["stddev"]), {}
    if op == "batch_norm":
        bn = ChannelBatchNorm(x[a["axis"]], a["axis"], len(x), a["momentum"], a["epsilon"])
        return bn, {"gamma": "bn.weight", "beta": "bn.bias", "running_mean": "bn.running_mean",
                    "running_var": "bn.running_var"}  # fmt: skip
    if op == "conv":
        nd = a["nd"]
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1](
            x[1], a["filters"], a["kernel"], a["strides"], 0, a["dilations"], bias=a["use_bias"]
        )
        return Padded(a["pads"], nd, conv), {"weight": "inner.weight", "bias": "inner.bias"}
    if op == "max_pool":
        pool = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[a["nd"] - 1](a["kernel"], a["strides"])
        return Padded(a["pads"], a["nd"], pool, value=float("-inf")), {}
    if op == "avg_pool":
        return AvgPoolExcludingPad(a["nd"], a["kernel"], a["strides"], a["pads"]), {}
    if op == "global_avg_pool":
        return Lambda(lambda t: t.mean(dim=a["axes"])), {}
    if op == "global_max_pool":
        return Lambda(lambda t: t.amax(dim=a["axes"])), {}
    if op == "flatten":
        return nn.Flatten(), {}
    if op == "reshape":
        return Lambda(lambda t: t.reshape(t.shape[0], *a["shape"])), {}
    if op == "add":
        return Lambda(lambda *ts: sum(ts[1:], ts[0])), {}
    if op == "concat":
        return Lambda(lambda *ts: torch.cat(ts, dim=a["axis"])), {}
    if op == "embedding":
        return nn.Embedding(a["vocab_size"], a["dim"]), {"weight": "weight"}
    if op in ("lstm", "rnn"):
        names = {
            "kernel": "weight_ih_l0",
            "recurrent": "weight_hh_l0",
            "bias_ih": "bias_ih_l0",
            "bias_hh": "bias_hh_l0",
        }
        return Recurrent(node, x[-1]), {k: f"rnn.{v}" for k, v in names.items()}
    raise NotImplementedError(f"no PyTorch translation for op {op!r} (node {node.name!r})")


def _get(module: nn.Module, path: str):
    for part in path.split("."):
        module = getattr(module, part)
    return module


class TorchGraph(nn.Module):
    """Runs the graph's nodes in order; forward returns the tensor netspec's loss consumes."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph = graph
        out = graph.node(graph.output)
        fused = FUSED_OUTPUT.get(graph.loss) == out.op
        self.loss_input = out.inputs[0] if fused else out.name
        self.fused = out.op if fused else None
        self.nodes = [n for n in graph.nodes if not (fused and n.name == out.name)]
        self.mods = nn.ModuleDict()
        self.params_of: list[tuple[torch.Tensor, Param]] = []  # (torch tensor, netspec Param)
        self.transposed: set[str] = set()  # netspec (in, out) matrices that PyTorch holds (out, in)
        for n in self.nodes:
            mod, roles = _module(n, [graph.shape_of(t) for t in n.inputs])
            self.mods[self._key(n.name)] = mod
            for role, p in n.params.items():
                self.params_of.append((_get(mod, roles[role]), p))
                if n.op in ("dense", "lstm", "rnn") and len(p.shape) == 2:
                    self.transposed.add(p.name)
        for t, p in self.params_of:
            if p.kind != "state" and not p.trainable:
                t.requires_grad_(False)

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def forward(self, x):
        values = {self.graph.input_name: x}
        for n in self.nodes:
            values[n.name] = self.mods[self._key(n.name)](*(values[t] for t in n.inputs))
        return values[self.loss_input]

    def outputs(self, z: torch.Tensor) -> torch.Tensor:
        """Model outputs (probabilities for classification) from forward's result."""
        if self.fused == "softmax":
            return torch.softmax(z, dim=-1)
        return torch.sigmoid(z) if self.fused == "sigmoid" else z

    @torch.no_grad()
    def init_like_spec(self, gen: torch.Generator) -> None:
        """Every parameter and state from the spec's initializer, drawn with `gen`."""
        for t, p in self.params_of:
            if p.init in UNIFORM:
                limit = UNIFORM[p.init](p.fan_in, p.fan_out)
                t.uniform_(-limit, limit, generator=gen)
            elif p.init in NORMAL:
                t.normal_(0.0, NORMAL[p.init](p.fan_in, p.fan_out), generator=gen)
            elif p.init in ("zeros", "ones"):
                t.fill_(float(p.init == "ones"))
            elif p.init == "forget_bias":  # gate blocks i, f, g, o in both libraries
                h = t.shape[0] // 4
                t.zero_()
                t[h : 2 * h] = p.fill
            else:
                raise NotImplementedError(f"initializer {p.init!r} of {p.name}")

    @torch.no_grad()
    def load_netspec(self, values: dict) -> None:
        """Copy netspec parameter arrays (ParamStore.values) in (to check the translation)."""
        for t, p in self.params_of:
            v = torch.from_numpy(values[p.name].copy())
            t.copy_(v.T if p.name in self.transposed else v)

    def penalty(self, l1: float, l2: float) -> torch.Tensor | float:
        """netspec's penalty: (l1 + layer l1) * sum|w| + (l2 + layer l2) * sum(w^2) over the
        trainable weights of dense/conv/rnn/lstm/embedding layers (never biases or state)."""
        total: torch.Tensor | float = 0.0
        for t, p in self.params_of:
            if p.regularized and p.trainable:
                c1, c2 = l1 + p.l1, l2 + p.l2
                if c1:
                    total = total + c1 * t.abs().sum()
                if c2:
                    total = total + c2 * t.square().sum()
        return total
