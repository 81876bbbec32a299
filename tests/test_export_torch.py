"""Conv, pool, global pool, rnn and lstm emitters against PyTorch computations (independent of
the executor's kernels; when those exist, the executor is checked too)."""

from __future__ import annotations

import numpy as np
import pytest
from test_export import build, layers_toml, random_params

from netspec.executor.reference import forward_inference
from netspec.export import check_model, export_onnx, parity_report, run_onnx

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytest.importorskip("onnxruntime")

ATOL, RTOL = 1e-5, 1e-4
ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda v: v,
       "leaky_relu": lambda v: F.leaky_relu(v, 0.01)}  # fmt: skip


def _pad(x, pads, value=0.0):
    nd = len(pads) // 2
    flat = []
    for i in reversed(range(nd)):  # F.pad wants the last axis first
        flat += [pads[i], pads[nd + i]]
    return F.pad(x, flat, value=value)


def _recurrent(node, p, x, lengths):
    """Step loop in float64; padded steps keep the state and output zeros."""
    n, t, _ = x.shape
    units = node.attrs["units"]
    k, r = p["kernel"], p["recurrent"]
    b = p["bias_ih"] + p["bias_hh"]
    h = torch.zeros(n, units, dtype=x.dtype)
    c = torch.zeros_like(h)
    ys = []
    real = (
        torch.ones(n, t, dtype=torch.bool)
        if lengths is None
        else torch.arange(t)[None] < torch.as_tensor(lengths)[:, None]
    )
    for s in range(t):
        z = x[:, s] @ k + h @ r + b
        if node.op == "lstm":
            i, f, g, o = z.split(units, dim=1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
            c = torch.where(real[:, s, None], c_new, c)
        else:
            h_new = ACT[node.attrs["activation"]](z)
        h = torch.where(real[:, s, None], h_new, h)
        ys.append(torch.where(real[:, s, None], h, torch.zeros_like(h)))
    return torch.stack(ys, 1) if node.attrs["return_sequences"] else h


def torch_forward(graph, params, x, lengths=None):
    """A float64 PyTorch interpreter for the IR ops these tests use."""
    vals = {graph.input_name: torch.as_tensor(np.asarray(x, np.float64))}
    for node in graph.nodes:
        a, xs = node.attrs, [vals[t] for t in node.inputs]
        p = {
            role: torch.as_tensor(params[prm.name].astype(np.float64))
            for role, prm in node.params.items()
        }
        v = xs[0]
        if node.op == "dense":
            y = v @ p["weight"] + p.get("bias", 0)
        elif node.op in ACT:
            y = ACT[node.op](v) if node.op != "leaky_relu" else F.leaky_relu(v, a["alpha"])
        elif node.op == "softmax":
            y = torch.softmax(v, -1)
        elif node.op == "conv":
            conv = F.conv1d if a["nd"] == 1 else F.conv2d
            y = conv(
                _pad(v, a["pads"]),
                p["weight"],
                p.get("bias"),
                stride=a["strides"],
                dilation=a["dilations"],
            )
        elif node.op == "max_pool":
            pool = F.max_pool1d if a["nd"] == 1 else F.max_pool2d
            y = pool(_pad(v, a["pads"], -torch.inf), a["kernel"], a["strides"])
        elif node.op == "avg_pool":  # padding excluded from the count
            pool = F.avg_pool1d if a["nd"] == 1 else F.avg_pool2d
            y = pool(_pad(v, a["pads"]), a["kernel"], a["strides"]) / pool(
                _pad(torch.ones_like(v), a["pads"]), a["kernel"], a["strides"]
            )
        elif node.op == "global_avg_pool":
            y = v.mean(dim=tuple(a["axes"]))
        elif node.op == "global_max_pool":
            y = v.amax(dim=tuple(a["axes"]))
        elif node.op in ("rnn", "lstm"):
            y = _recurrent(node, p, v, lengths)
        elif node.op == "flatten":
            y = v.reshape(v.shape[0], -1)
        elif node.op in ("dropout", "gaussian_noise"):
            y = v
        else:
            raise AssertionError(f"no torch reference for {node.op}")
        vals[node.name] = y
    return vals[graph.output].numpy()


def assert_close(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    err = np.abs(got - want)
    assert np.all(err <= ATOL + RTOL * np.abs(want)), err.max()


def executor(graph, params, x, lengths=None):
    """The executor's output (every op has a kernel: a missing one fails the test)."""
    return forward_inference(graph, params, x, lengths)


def check_against_torch(graph, params, xs, opsets=(13, 17, 21), lengths=None, **kw):
    for opset in opsets:
        model = export_onnx(graph, params, opset=opset, **kw)
        check_model(model)
        for i, x in enumerate(xs):
            for b in (1, 37):
                xb = x[np.arange(b) % len(x)]
                lb = None if lengths is None else lengths[i][np.arange(b) % len(x)]
                got = run_onnx(model, xb, lb)
                assert_close(got, torch_forward(graph, params, xb, lb))
                assert_close(executor(graph, params, xb, lb), torch_forward(graph, params, xb, lb))
    return model


def test_conv2d_pools(tmp_path):
    layers = layers_toml(
        'type = "conv2d"\nfilters = 3\nkernel_size = [3, 2]\nstrides = [2, 1]\npadding = "same"\nactivation = "relu"',
        'type = "max_pool2d"\npool_size = 2\npadding = "same"',
        'type = "conv2d"\nfilters = 4\nkernel_size = 2\ndilation = 2\npadding = 1\nuse_bias = false',
        'type = "avg_pool2d"\npool_size = 3\nstrides = 1\npadding = 1',
        'type = "global_avg_pool"',
        'type = "dense"\nunits = 3\nactivation = "softmax"',
    )
    g = build(tmp_path, layers, "[2, 10, 8]", loss="cross_entropy")
    pads = g.node("conv2d_1.pre").attrs["pads"]
    assert pads == (0, 0, 1, 1)  # "same": the extra padding goes at the end
    params = random_params(g, seed=10)
    x = np.random.default_rng(10).normal(size=(37, 2, 10, 8)).astype(np.float32)
    model = check_against_torch(g, params, [x])
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    assert {a.name for a in conv.attribute} >= {"pads", "strides", "dilations", "kernel_shape"}
    assert all(a.name != "auto_pad" for n in model.graph.node for a in n.attribute)
    avg = next(n for n in model.graph.node if n.op_type == "AveragePool")
    assert any(a.name == "count_include_pad" and a.i == 0 for a in avg.attribute)


def test_conv1d_symbolic_length_global_max(tmp_path):
    layers = layers_toml(
        'type = "conv1d"\nfilters = 4\nkernel_size = 3\npadding = "same"\nactivation = "tanh"',
        'type = "max_pool1d"\npool_size = 2',
        'type = "conv1d"\nfilters = 5\nkernel_size = 2\nstrides = 2',
        'type = "global_max_pool"',
        'type = "dense"\nunits = 2',
    )
    g = build(tmp_path, layers, '[3, "length"]')
    params = random_params(g, seed=11)
    rng = np.random.default_rng(11)
    xs = [rng.normal(size=(37, 3, n)).astype(np.float32) for n in (12, 17)]
    model = check_against_torch(g, params, xs)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "length"]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity", "leaky_relu"])
def test_rnn_activations(tmp_path, activation):
    layers = layers_toml(
        f'type = "rnn"\nunits = 5\nactivation = "{activation}"\nreturn_sequences = true',
        'type = "rnn"\nunits = 4',
        'type = "dense"\nunits = 2',
    )
    g = build(tmp_path, layers, '["time", 3]')
    params = random_params(g, seed=12)
    rng = np.random.default_rng(12)
    xs = [rng.normal(size=(37, t, 3)).astype(np.float32) for t in (4, 7)]
    check_against_torch(g, params, xs, opsets=(17,) if activation != "tanh" else (13, 17, 21))


def test_rnn_matches_torch_nn_rnn(tmp_path):
    """The step loop above agrees with torch.nn.RNN, so the references are not circular."""
    g = build(
        tmp_path, layers_toml('type = "rnn"\nunits = 4\nreturn_sequences = true'), '["time", 3]'
    )
    params = random_params(g, seed=13)
    rnn = torch.nn.RNN(3, 4, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(params["rnn_1.kernel"].T.astype(np.float64)))
        rnn.weight_hh_l0.copy_(torch.as_tensor(params["rnn_1.recurrent"].T.astype(np.float64)))
        rnn.bias_ih_l0.copy_(torch.as_tensor(params["rnn_1.bias_ih"].astype(np.float64)))
        rnn.bias_hh_l0.copy_(torch.as_tensor(params["rnn_1.bias_hh"].astype(np.float64)))
    x = np.random.default_rng(13).normal(size=(6, 5, 3))
    want = rnn(torch.as_tensor(x))[0].detach().numpy()
    assert_close(run_onnx(export_onnx(g, params), x.astype(np.float32)), want)


def test_lstm_against_torch_nn_lstm(tmp_path):
    layers = layers_toml('type = "lstm"\nunits = 6\nreturn_sequences = true', 'type = "global_avg_pool"',
                         'type = "dense"\nunits = 2\nactivation = "softmax"')  # fmt: skip
    g = build(tmp_path, layers, '["time", 3]', loss="cross_entropy")
    assert g.node("global_avg_pool_1").attrs["axes"] == (1,)
    params = random_params(g, seed=14)
    for name in ("lstm_1.bias_ih", "lstm_1.bias_hh"):
        params[name] = params[name] + np.float32(0.5)  # nonzero biases, gate blocks told apart
    lstm = torch.nn.LSTM(3, 6, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.as_tensor(params["lstm_1.kernel"].T.astype(np.float64)))
        lstm.weight_hh_l0.copy_(torch.as_tensor(params["lstm_1.recurrent"].T.astype(np.float64)))
        lstm.bias_ih_l0.copy_(torch.as_tensor(params["lstm_1.bias_ih"].astype(np.float64)))
        lstm.bias_hh_l0.copy_(torch.as_tensor(params["lstm_1.bias_hh"].astype(np.float64)))
    rng = np.random.default_rng(14)
    x = rng.normal(size=(5, 7, 3))
    seq = lstm(torch.as_tensor(x))[0]
    node = g.node("lstm_1")
    p = {r: torch.as_tensor(params[prm.name].astype(np.float64)) for r, prm in node.params.items()}
    assert_close(
        _recurrent(node, p, torch.as_tensor(x), None).detach().numpy(), seq.detach().numpy()
    )
    xs = [rng.normal(size=(37, t, 3)).astype(np.float32) for t in (4, 9)]
    model = check_against_torch(g, params, xs)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "time", 3]
    r = parity_report(model, lambda a: torch_forward(g, params, a), xs[0])
    assert r["ok"], r["failures"]
    assert {c["input_shape"][1] for c in r["cases"]} == {
        4,
        2,
    }  # two sequence lengths (2 = 2/3 of 4)


def test_lstm_many_to_one(tmp_path):
    layers = layers_toml('type = "lstm"\nunits = 5', 'type = "dense"\nunits = 1')
    g = build(tmp_path, layers, '["time", 2]')
    params = random_params(g, seed=15)
    xs = [np.random.default_rng(15).normal(size=(37, t, 2)).astype(np.float32) for t in (3, 8)]
    model = check_against_torch(g, params, xs)
    lstm = next(n for n in model.graph.node if n.op_type == "LSTM")
    assert list(lstm.output) == ["", "lstm_1/Y_h"] and len(lstm.input) == 4  # no initial state


def test_sequence_lengths_input(tmp_path):
    """Padded batches: the exported model takes int32 lengths; padded steps change nothing and
    return_sequences outputs are zeros there."""
    layers = layers_toml(
        'type = "lstm"\nunits = 4\nreturn_sequences = true', 'type = "rnn"\nunits = 3'
    )
    g = build(tmp_path, layers, '["time", 2]')
    params = random_params(g, seed=16)
    rng = np.random.default_rng(16)
    x = rng.normal(size=(37, 6, 2)).astype(np.float32)
    lengths = rng.integers(1, 7, size=37).astype(np.int32)
    model = check_against_torch(
        g, params, [x], opsets=(13, 17), lengths=[lengths], sequence_lengths=True
    )
    assert [i.name for i in model.graph.input] == ["input", "lengths"]
    # the padded steps really are ignored: garbage there changes nothing
    x2 = x.copy()
    x2[np.arange(6)[None, :] >= lengths[:, None]] = 99.0
    assert_close(run_onnx(model, x2, lengths), run_onnx(model, x, lengths))
    r = parity_report(model, lambda a, n: torch_forward(g, params, a, n), x, lengths_list=[lengths])
    assert r["ok"], r["failures"]
    assert {tuple(c["input_shape"]) for c in r["cases"]} == {
        (1, 6, 2),
        (37, 6, 2),
        (1, 4, 2),
        (37, 4, 2),
    }
