"""Shape inference, parameter counts and FLOPs for every layer type of the catalog, against
hand-computed values and, where PyTorch has the same layer, against PyTorch's own count and
output shape. Symbolic dims stay names through the rules that allow them."""

from __future__ import annotations

import pytest
from shape_helpers import B, build, out_shape, shape_error, torch_count

from netspec.kernels.shapes import dim_size
from netspec.spec.layers import LAYER_TYPES

# Every layer type of the catalog must appear in at least one test below (by its `type`).
COVERED = {
    "dense", "activation", "dropout", "gaussian_noise", "batch_norm", "conv1d", "conv2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "global_avg_pool", "global_max_pool",
    "flatten", "reshape", "embedding", "rnn", "lstm", "gru", "repeat", "add", "concat",
}  # fmt: skip


def test_every_catalog_type_is_covered():
    assert set(LAYER_TYPES) == COVERED


# --------------------------------------------------------------------------------------- dense


def test_dense():
    c = build([20], {"type": "dense", "units": 7})
    assert out_shape(c) == (B, 7)
    assert c.cost.params == 20 * 7 + 7
    assert c.cost.flops == 2 * 20 * 7 + 7
    assert build([20], {"type": "dense", "units": 7, "use_bias": False}).cost.params == 140


def test_dense_rank3_applies_to_last_axis():
    c = build([5, 20], {"type": "dense", "units": 7})
    assert out_shape(c) == (B, 5, 7)
    assert c.cost.params == 147
    assert c.cost.flops == 5 * (2 * 20 * 7 + 7)
    c = build(["time", 3], {"type": "dense", "units": 4})
    assert out_shape(c) == (B, "time", 4) and c.cost.params == 16


def test_dense_with_fused_activation_is_two_nodes():
    c = build([20], {"type": "dense", "name": "fc", "units": 7, "activation": "tanh"})
    assert [(n.name, n.op) for n in c.graph.nodes] == [("fc.pre", "dense"), ("fc", "tanh")]
    assert c.cost.flops == 2 * 20 * 7 + 7 + 7
    assert c.cost.layer_params == {"fc": 147}


def test_dense_torch_count():
    torch = pytest.importorskip("torch")
    assert build([20], {"type": "dense", "units": 7}).cost.params == torch_count(
        torch.nn.Linear(20, 7)
    )
    nobias = build([20], {"type": "dense", "units": 7, "use_bias": False}).cost.params
    assert nobias == torch_count(torch.nn.Linear(20, 7, bias=False))


# ------------------------------------------------------------------ shape-preserving layers


@pytest.mark.parametrize(
    "function", ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]
)
def test_activation(function):
    loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(function, "mse")
    c = build([6, 5], {"type": "activation", "function": function}, loss=loss)
    assert out_shape(c) == (B, 6, 5)
    assert c.cost.params == 0
    assert c.cost.flops == 30


@pytest.mark.parametrize(
    "layer", [{"type": "dropout", "rate": 0.5}, {"type": "gaussian_noise", "stddev": 0.1}]
)
def test_dropout_and_noise_keep_shape(layer):
    c = build([3, "height", "width"], layer)
    assert out_shape(c) == (B, 3, "height", "width")
    assert c.cost.params == 0


# ---------------------------------------------------------------------------------- batch_norm


@pytest.mark.parametrize(
    ("input_shape", "channels"),
    [([10], 10), ([3, 8, 8], 3), ([4, 16], 4), (["time", 5], 5), ([3, "height", "width"], 3)],
)
def test_batch_norm_per_feature_or_channel(input_shape, channels):
    c = build(input_shape, {"type": "batch_norm"})
    assert out_shape(c) == (B, *input_shape)
    node = c.graph.nodes[0]
    assert {r: p.shape for r, p in node.params.items()} == {
        "gamma": (channels,), "beta": (channels,),
        "running_mean": (channels,), "running_var": (channels,),
    }  # fmt: skip
    assert c.cost.params == 2 * channels  # running statistics are state, not parameters
    assert c.cost.state == 2 * channels
    assert c.cost.trainable == 2 * channels and c.cost.frozen == 0


def test_batch_norm_after_lstm_sequence_is_per_feature():
    c = build(
        [10, 3], {"type": "lstm", "units": 4, "return_sequences": True}, {"type": "batch_norm"}
    )
    assert out_shape(c) == (B, 10, 4)
    assert c.graph.nodes[-1].params["gamma"].shape == (4,)


def test_batch_norm_frozen():
    c = build([10], {"type": "batch_norm", "trainable": False})
    assert (c.cost.params, c.cost.trainable, c.cost.frozen) == (20, 0, 20)


def test_batch_norm_torch_count():
    torch = pytest.importorskip("torch")
    assert build([10], {"type": "batch_norm"}).cost.params == torch_count(torch.nn.BatchNorm1d(10))
    assert build([3, 8, 8], {"type": "batch_norm"}).cost.params == torch_count(
        torch.nn.BatchNorm2d(3)
    )


# ------------------------------------------------------------------------- flatten / reshape


def test_flatten():
    c = build([3, 4, 5], {"type": "flatten"})
    assert out_shape(c) == (B, 60) and c.cost.flops == 0


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ([1, 8, 8], (1, 8, 8)),
        ([-1, 8], (8, 8)),
        ([4, -1], (4, 16)),
        ([-1], (64,)),
        ([2, -1, 4], (2, 8, 4)),
    ],
)
def test_reshape(target, expected):
    c = build([64], {"type": "reshape", "shape": target})
    assert out_shape(c) == (B, *expected)


@pytest.mark.parametrize("target", [[7, 8], [-1, -1], [5, -1], [0, 64]])
def test_reshape_errors(target):
    d = shape_error([64], {"type": "reshape", "shape": target})
    assert d.path == ("model", "layers", 0, "shape")


# ------------------------------------------------------------------------------- embedding


def test_embedding():
    c = build([12], {"type": "embedding", "vocab_size": 100, "dim": 16}, dtype="int64")
    assert out_shape(c) == (B, 12, 16) and c.cost.params == 1600
    c = build(["time"], {"type": "embedding", "vocab_size": 100, "dim": 16}, dtype="int64")
    assert out_shape(c) == (B, "time", 16)
    assert "int64" in shape_error([12], {"type": "embedding", "vocab_size": 100, "dim": 16}).message
    assert "embedding" in shape_error([12], {"type": "dense", "units": 2}, dtype="int64").message


def test_embedding_torch_count():
    torch = pytest.importorskip("torch")
    c = build([12], {"type": "embedding", "vocab_size": 100, "dim": 16}, dtype="int64")
    assert c.cost.params == torch_count(torch.nn.Embedding(100, 16))


# ----------------------------------------------------------------------------- rnn / lstm


@pytest.mark.parametrize("seq", [False, True])
def test_rnn(seq):
    c = build([10, 3], {"type": "rnn", "units": 5, "return_sequences": seq})
    assert out_shape(c) == ((B, 10, 5) if seq else (B, 5))
    assert c.cost.params == 3 * 5 + 5 * 5 + 5 + 5  # kernel, recurrent, two biases
    assert c.cost.flops == 10 * (2 * 5 * (3 + 5) + 2 * 5 + 5)


@pytest.mark.parametrize("seq", [False, True])
def test_lstm_symbolic_time(seq):
    c = build(["time", 3], {"type": "lstm", "units": 8, "return_sequences": seq})
    assert out_shape(c) == ((B, "time", 8) if seq else (B, 8))
    params = {r: p.shape for r, p in c.graph.nodes[0].params.items()}
    assert params == {"kernel": (3, 32), "recurrent": (8, 32), "bias_ih": (32,), "bias_hh": (32,)}
    assert c.cost.params == 4 * 8 * 3 + 4 * 8 * 8 + 2 * 4 * 8
    per_step = 2 * 32 * (3 + 8) + 2 * 32 + 6 * 8
    assert c.cost.flops == per_step  # time counts as 1 ...
    c = build(["time", 3], {"type": "lstm", "units": 8, "return_sequences": seq}, dims={"time": 25})
    assert c.cost.flops == 25 * per_step  # ... unless its size is given


def test_recurrent_torch_counts():
    torch = pytest.importorskip("torch")
    assert build([10, 3], {"type": "rnn", "units": 5}).cost.params == torch_count(
        torch.nn.RNN(3, 5)
    )
    assert build([10, 3], {"type": "lstm", "units": 8}).cost.params == torch_count(
        torch.nn.LSTM(3, 8)
    )
    stacked = build(
        [10, 3],
        {"type": "lstm", "units": 8, "return_sequences": True},
        {"type": "lstm", "units": 6},
    )
    assert stacked.cost.params == torch_count(torch.nn.LSTM(3, 8)) + torch_count(
        torch.nn.LSTM(8, 6)
    )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gru_and_bidirectional_torch_counts_and_shapes(kind):
    torch = pytest.importorskip("torch")
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    uni = build(["time", 3], {"type": kind, "units": 5, "return_sequences": True})
    assert uni.cost.params == torch_count(module(3, 5)) and out_shape(uni) == (B, "time", 5)
    bi = build(["time", 3], {"type": kind, "units": 5, "bidirectional": True})
    assert bi.cost.params == torch_count(module(3, 5, bidirectional=True))
    assert out_shape(bi) == (B, 10)
    assert bi.cost.flops == 2 * build([1, 3], {"type": kind, "units": 5}).cost.flops


def test_repeat_fixed_and_named_lengths():
    fixed = build(["time", 3], {"type": "gru", "units": 4}, {"type": "repeat", "length": 6},
                  {"type": "lstm", "units": 2, "return_sequences": True})  # fmt: skip
    assert out_shape(fixed) == (B, 6, 2)
    assert [n.time_axis for n in fixed.graph.nodes] == [None, "repeat_1.time", "repeat_1.time"]
    named = build(["time", 3], {"type": "gru", "units": 4}, {"type": "repeat", "length": "time"})
    assert out_shape(named) == (B, "time", 4) and named.graph.nodes[-1].time_axis == "input.time"
    err = shape_error(["time", 3], {"type": "gru", "units": 4}, {"type": "repeat", "length": "steps"})
    assert 'length "steps"' in err.message and "time" in err.message and err.path[-1] == "length"
    assert "rank 2" in shape_error(["time", 3], {"type": "repeat", "length": 2}).message


def test_recurrent_errors():
    assert "rank 3" in shape_error([10], {"type": "lstm", "units": 4}).message
    assert "feature axis" in shape_error([10, "f"], {"type": "rnn", "units": 4}).message


# -------------------------------------------------------------------------------- add / concat


def _branches(merge: dict, a_units=4, b_units=4):
    return (
        {"type": "dense", "name": "a", "units": a_units},
        {"type": "dense", "name": "b", "units": b_units, "inputs": ["input"]},
        {**merge, "inputs": ["a", "b"]},
    )


def test_add():
    c = build([5], *_branches({"type": "add"}))
    assert out_shape(c) == (B, 4)
    assert c.cost.params == 2 * (5 * 4 + 4) and c.cost.layer_flops["add_1"] == 4
    c = build(
        [5], {"type": "dense", "name": "a", "units": 5}, {"type": "add", "inputs": ["input", "a"]}
    )
    assert out_shape(c) == (B, 5)
    d = shape_error([5], *_branches({"type": "add"}, 4, 3))
    assert d.path == ("model", "layers", 2, "inputs") and "same shape" in d.message


def test_concat():
    assert out_shape(build([5], *_branches({"type": "concat"}, 4, 3))) == (B, 7)
    convs = (
        {"type": "conv2d", "name": "a", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"type": "conv2d", "name": "b", "filters": 6, "kernel_size": 1, "inputs": ["input"]},
        {"type": "concat", "axis": 1, "inputs": ["a", "b"]},
    )
    assert out_shape(build([3, 8, 8], *convs)) == (B, 10, 8, 8)
    seqs = (
        {"type": "lstm", "name": "a", "units": 4, "return_sequences": True},
        {"type": "lstm", "name": "b", "units": 6, "return_sequences": True, "inputs": ["input"]},
        {"type": "concat", "inputs": ["a", "b"]},
    )
    assert out_shape(build(["time", 3], *seqs)) == (B, "time", 10)
    d = shape_error([5], *_branches({"type": "concat", "axis": 0}))
    assert d.path[-1] == "axis"
    d = shape_error([3, 8, 8], *convs[:2], {"type": "concat", "axis": 2, "inputs": ["a", "b"]})
    assert d.path[-1] == "inputs"


# ------------------------------------------------------------------------------- dim_size


@pytest.mark.parametrize(
    ("dim", "sizes", "size"),
    [(7, {}, 7), ("time", {"time": 9}, 9), ("time", {}, 1), ("(height-3)+1", {"height": 10}, 8),
     ("((h-3)/2+1-2)/2+1", {"h": 33}, 8), ("time+time", {"time": 4}, 8), ("(h-3)+1", {}, 1),
     ("(h-5)+1", {"h": 2}, 0)],
)  # fmt: skip
def test_dim_size(dim, sizes, size):
    assert dim_size(dim, sizes) == size
