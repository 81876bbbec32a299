"""The executor's kernels as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own node
test suite checks them: tests/test_onnx_backend.py runs `onnx.backend.test.BackendTest`.

`prepare(model)` walks the ONNX graph once and maps each node onto the registry's forward
kernels in inference mode. Where ONNX is more general than the IR op (Gemm's transposes and
alpha/beta, broadcasting Add, Flatten at any axis, Gather along any axis, conv auto_pad, RNN
weight layouts), a little NumPy glue reshapes, transposes or scales around the kernel; the
arithmetic itself stays in the kernels. Features netspec does not claim (grouped conv, ceil
mode, dilated pools, bidirectional / peephole / initial-state RNNs, training-mode batch norm)
raise NotImplementedError with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.base import Backend, BackendRep

from ..kernels.registry import RunContext, get_op
from ..kernels.shapes import same_pads

Handler = Callable[[dict, list, int], list]
HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str):
    def register(fn: Handler) -> Handler:
        for t in op_types:
            HANDLERS[t] = fn
        return fn

    return register


def kernel(
    op: str, attrs: dict, xs: list[np.ndarray], params: dict | None = None, lengths=None
) -> np.ndarray:
    """Run the executor's forward kernel for IR op `op` in inference mode."""
    fwd = get_op(op).forward
    if fwd is None:
        raise NotImplementedError(f"the executor has no kernel for op {op!r} yet")
    dtype = np.float64 if xs[0].dtype == np.float64 else np.float32
    y, _ = fwd(attrs, xs, params or {}, RunContext(training=False, dtype=dtype, lengths=lengths))
    return y


def unsupported(what: str):
    raise NotImplementedError(f"netspec's backend does not support {what}")


@handles("Relu", "Sigmoid", "Tanh")
def _elementwise(a, xs, n):
    return [kernel(a["_op"].lower(), {}, xs[:1])]


@handles("LeakyRelu")
def _leaky_relu(a, xs, n):
    return [kernel("leaky_relu", {"alpha": a.get("alpha", 0.01)}, xs[:1])]


@handles("Softmax")
def _softmax(a, xs, n):
    x = xs[0]
    if a["_opset"] < 13:  # Softmax-1/11: coerce to 2-D at axis
        axis = a.get("axis", 1) % x.ndim
        return [kernel("softmax", {}, [x.reshape(prod(x.shape[:axis]), -1)]).reshape(x.shape)]
    axis = a.get("axis", -1) % x.ndim
    y = kernel("softmax", {}, [np.ascontiguousarray(np.moveaxis(x, axis, -1))])
    return [np.moveaxis(y, -1, axis)]


@handles("Gemm")
def _gemm(a, xs, n):
    A, B = xs[0], xs[1]
    C = xs[2] if len(xs) > 2 else None
    A = A.T if a.get("transA", 0) else A
    B = B.T if a.get("transB", 0) else B
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    params = {"weight": np.ascontiguousarray(B)}
    fused = C is not None and alpha == 1.0 and beta == 1.0 and C.ndim <= 1
    if fused:  # a row vector (or scalar) bias is the dense kernel's own bias
        params["bias"] = np.broadcast_to(C, (B.shape[1],)).astype(A.dtype)
    y = kernel("dense", {"units": B.shape[1], "use_bias": fused}, [np.ascontiguousarray(A)], params)
    if alpha != 1.0:
        y = y * np.asarray(alpha, y.dtype)
    if C is not None and not fused:
        y = y + np.asarray(beta, y.dtype) * C
    return [y.astype(A.dtype, copy=False)]


@handles("MatMul")
def _matmul(a, xs, n):
    A, B = xs
    if B.ndim == 2 and A.ndim >= 1:
        return [kernel("dense", {"units": B.shape[1], "use_bias": False}, [A], {"weight": B})]
    return [np.matmul(A, B)]  # batched or vector right-hand sides: no IR op for these


@handles("Add")
def _add(a, xs, n):
    shape = np.broadcast_shapes(xs[0].shape, xs[1].shape)
    return [kernel("add", {}, [np.broadcast_to(x, shape) for x in xs])]


@handles("Concat")
def _concat(a, xs, n):
    return [kernel("concat", {"axis": a["axis"]}, xs)]


@handles("BatchNormalization")
def _batch_norm(a, xs, n):
    if a.get("training_mode", 0) or n > 1:
        unsupported("BatchNormalization in training mode (netspec exports the inference form)")
    x, gamma, beta, mean, var = xs
    attrs = {"epsilon": a.get("epsilon", 1e-5), "momentum": a.get("momentum", 0.9), "axis": 1}
    params = {"gamma": gamma, "beta": beta, "running_mean": mean, "running_var": var}
    return [kernel("batch_norm", attrs, [x], params)]


@handles("Flatten")
def _flatten(a, xs, n):
    x = xs[0]
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    rows = prod(x.shape[:axis])
    return [kernel("flatten", {}, [x.reshape(rows, *x.shape[axis:])])]


@handles("Reshape")
def _reshape(a, xs, n):
    x, shape = xs[0], [int(s) for s in xs[1]]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    if -1 in shape:
        known = prod(s for s in shape if s != -1)
        shape[shape.index(-1)] = x.size // known if known else 0
    if len(shape) == 1:
        return [x.reshape(shape)]
    rows = x.reshape(shape[0], prod(shape[1:]))
    return [kernel("reshape", {"shape": shape[1:]}, [rows])]


@handles("Gather")
def _gather(a, xs, n):
    data, ids = xs
    axis = a.get("axis", 0) % data.ndim
    table = np.moveaxis(data, axis, 0)
    y = kernel(
        "embedding",
        {"vocab_size": table.shape[0], "dim": 0},
        [ids.astype(np.int64)],
        {"weight": table},
    )
    # y: (*ids.shape, *data.shape without axis) -> put the ids' axes at `axis`
    k = ids.ndim
    order = list(range(k, k + axis)) + list(range(k)) + list(range(k + axis, y.ndim))
    return [np.transpose(y, order)]


def _window_attrs(a: dict, x: np.ndarray, kernel_shape, pool: bool) -> dict:
    nd = x.ndim - 2
    strides = tuple(a.get("strides", [1] * nd))
    dilations = tuple(a.get("dilations", [1] * nd))
    if pool and any(d != 1 for d in dilations):
        unsupported("dilated pooling")
    if a.get("ceil_mode", 0):
        unsupported("ceil_mode=1 (netspec pools in floor mode)")
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [
            same_pads(x.shape[2 + i], kernel_shape[i], strides[i], dilations[i]) for i in range(nd)
        ]
        if auto == "SAME_LOWER":
            pairs = [(e, b) for b, e in pairs]
        pads = tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)
    else:
        pads = tuple(a.get("pads", [0] * (2 * nd)))
    return {
        "nd": nd,
        "kernel": tuple(kernel_shape),
        "strides": strides,
        "dilations": dilations,
        "pads": pads,
    }


@handles("Conv")
def _conv(a, xs, n):
    x, w = xs[0], xs[1]
    if a.get("group", 1) != 1:
        unsupported("grouped convolution")
    attrs = _window_attrs(a, x, a.get("kernel_shape", w.shape[2:]), pool=False)
    b = xs[2] if len(xs) > 2 else None
    params = {"weight": w, **({"bias": b} if b is not None else {})}
    attrs.update(filters=w.shape[0], use_bias=b is not None, padding=list(attrs["pads"]))
    return [kernel("conv", attrs, [x], params)]


@handles("MaxPool", "AveragePool")
def _pool(a, xs, n):
    if n > 1:
        unsupported("MaxPool's Indices output")
    if a["_op"] == "AveragePool" and a.get("count_include_pad", 0):
        unsupported("count_include_pad=1 (netspec leaves padding out of the average)")
    if a.get("storage_order", 0):
        unsupported("storage_order=1")
    attrs = _window_attrs(a, xs[0], a["kernel_shape"], pool=True)
    op = "max_pool" if a["_op"] == "MaxPool" else "avg_pool"
    return [kernel(op, {**attrs, "padding": list(attrs["pads"])}, xs[:1])]


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(a, xs, n):
    x = xs[0]
    op = "global_avg_pool" if a["_op"] == "GlobalAveragePool" else "global_max_pool"
    y = kernel(op, {"axes": tuple(range(2, x.ndim))}, [x])
    return [y.reshape(*x.shape[:2], *([1] * (x.ndim - 2)))]


_RNN_ACTS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}
_FROM_ONNX_GATES = (0, 2, 3, 1)  # ONNX blocks i, o, f, c -> executor order i, f, g(c), o


@handles("RNN", "LSTM")
def _recurrent(a, xs, n):
    lstm = a["_op"] == "LSTM"
    xs = xs + [None] * (8 - len(xs))
    x, w, r, b, seq_lens = xs[:5]
    if a.get("direction", "forward") != "forward":
        unsupported(f"{a['_op']} direction {a['direction']!r} (netspec runs forward only)")
    if any(v is not None for v in xs[5:]) or "clip" in a:
        unsupported(f"{a['_op']} initial states, peepholes or clipping")
    if n > 2:
        unsupported("LSTM's Y_c output")
    acts = [s.lower() for s in a.get("activations", [])]
    if lstm and acts and acts != ["sigmoid", "tanh", "tanh"]:
        unsupported(f"LSTM activations {a['activations']}")
    if not lstm and acts and (len(acts) != 1 or acts[0] not in _RNN_ACTS):
        unsupported(f"RNN activations {a['activations']}")
    gates, h = (4 if lstm else 1), a["hidden_size"]
    batch_first = a.get("layout", 0) == 1
    x = x if batch_first else np.transpose(x, (1, 0, 2))

    def reorder(m, axis):
        if not lstm:
            return m
        blocks = np.split(m, 4, axis=axis)
        return np.concatenate([blocks[i] for i in _FROM_ONNX_GATES], axis=axis)

    bias = b[0] if b is not None else np.zeros(2 * gates * h, x.dtype)
    params = {"kernel": np.ascontiguousarray(reorder(w[0], 0).T), "recurrent": np.ascontiguousarray(reorder(r[0], 0).T),
              "bias_ih": reorder(bias[: gates * h], 0), "bias_hh": reorder(bias[gates * h :], 0)}  # fmt: skip
    attrs = {"kind": "lstm" if lstm else "rnn", "units": h, "return_sequences": True}
    if not lstm:
        attrs["activation"] = _RNN_ACTS[acts[0] if acts else "tanh"]
    lengths = None if seq_lens is None else seq_lens.astype(np.int64)
    seq = kernel(
        attrs["kind"], attrs, [np.ascontiguousarray(x)], params, lengths
    )  # (batch, time, H)
    last = seq[:, -1] if lengths is None else seq[np.arange(len(seq)), np.maximum(lengths, 1) - 1]
    if batch_first:
        return [seq[:, :, None], last[:, None]]
    return [np.transpose(seq, (1, 0, 2))[:, None], last[None]]


class NetspecRep(BackendRep):
    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 21
        )
        self.values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.inputs = [i.name for i in g.input if i.name not in self.values]
        self.outputs = [o.name for o in g.output]
        self.steps = []
        for node in g.node:
            if node.domain not in ("", "ai.onnx") or node.op_type not in HANDLERS:
                unsupported(f"op {node.op_type!r}; supported: {', '.join(sorted(HANDLERS))}")
            attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
            attrs.update(_op=node.op_type, _opset=self.opset)
            self.steps.append((HANDLERS[node.op_type], attrs, list(node.input), list(node.output)))

    def run(self, inputs, **kwargs):
        env = dict(self.values)
        if isinstance(inputs, dict):
            env.update({k: np.asarray(v) for k, v in inputs.items()})
        else:
            env.update({k: np.asarray(v) for k, v in zip(self.inputs, inputs)})
        for fn, attrs, ins, outs in self.steps:
            xs = [env[i] if i else None for i in ins]
            while xs and xs[-1] is None:
                xs.pop()
            results = fn(attrs, xs, len(outs))
            for name, value in zip(outs, results):
                if name:
                    env[name] = value
        return tuple(env[o] for o in self.outputs)


class NetspecBackend(Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> NetspecRep:
        super().prepare(model, device, **kwargs)
        return NetspecRep(model)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


prepare = NetspecBackend.prepare
run_model = NetspecBackend.run_model
supports_device = NetspecBackend.supports_device


from . import backend_glue  # noqa: E402,F401 - registers the structural ops' handlers
from . import backend_sequence_glue  # noqa: E402,F401 - the sequence exports' structural ops
