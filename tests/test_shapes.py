"""Shape inference, parameter counts and FLOPs for every layer type of the catalog, against
hand-computed values and, where PyTorch has the same layer, against PyTorch's own count and
output shape. Symbolic dims stay names through the rules that allow them."""

from __future__ import annotations

import pytest

from netspec.compiler import Compiled, compile_spec
from netspec.errors import SpecError
from netspec.kernels.shapes import dim_size
from netspec.spec import Spec
from netspec.spec.layers import LAYER_TYPES

B = "batch"


def build(input_shape, *layers, dtype="float32", loss="mse", **kwargs) -> Compiled:
    spec = Spec.model_validate(
        {
            "name": "shapes",
            "model": {
                "input_shape": list(input_shape),
                "input_dtype": dtype,
                "layers": list(layers),
            },
            "train": {"epochs": 1, "loss": loss},
        }
    )
    return compile_spec(spec, **kwargs)


def out_shape(c: Compiled) -> tuple:
    return c.graph.output_shape


def shape_error(input_shape, *layers, dtype="float32"):
    with pytest.raises(SpecError) as info:
        build(input_shape, *layers, dtype=dtype)
    diags = info.value.diagnostics
    assert diags and all(d.code == "shape" for d in diags)
    return diags[0]


def torch_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


# Every layer type of the catalog must appear in at least one test below (by its `type`).
COVERED = {
    "dense", "activation", "dropout", "gaussian_noise", "batch_norm", "conv1d", "conv2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "global_avg_pool", "global_max_pool",
    "flatten", "reshape", "embedding", "rnn", "lstm", "add", "concat",
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


# ---------------------------------------------------------------------------------------- conv

CONV1D_CASES = [
    # (layer keys, expected length) on input (3, 20), filters 8
    ({"kernel_size": 5}, 16),
    ({"kernel_size": 5, "padding": "same"}, 20),
    ({"kernel_size": 5, "strides": 2}, 8),  # (20 - 5) // 2 + 1
    ({"kernel_size": 5, "strides": 2, "padding": "same"}, 10),  # ceil(20 / 2)
    ({"kernel_size": 3, "dilation": 2}, 16),  # span 5
    ({"kernel_size": 3, "dilation": 2, "padding": "same"}, 20),
    ({"kernel_size": 5, "padding": 1}, 18),
    ({"kernel_size": [5], "padding": [2]}, 20),
]


@pytest.mark.parametrize(("keys", "length"), CONV1D_CASES)
def test_conv1d(keys, length):
    c = build([3, 20], {"type": "conv1d", "filters": 8, **keys})
    assert out_shape(c) == (B, 8, length)
    k = keys["kernel_size"] if isinstance(keys["kernel_size"], int) else keys["kernel_size"][0]
    assert c.cost.params == 8 * 3 * k + 8
    assert c.cost.flops == 8 * length * (2 * 3 * k + 1)


CONV2D_CASES = [
    # (layer keys, expected (h, w)) on input (3, 32, 32), filters 16
    ({"kernel_size": 3}, (30, 30)),
    ({"kernel_size": 3, "padding": "same"}, (32, 32)),
    ({"kernel_size": 3, "strides": 2}, (15, 15)),
    ({"kernel_size": 3, "strides": [2, 1]}, (15, 30)),
    ({"kernel_size": [3, 5], "padding": "same"}, (32, 32)),
    ({"kernel_size": [3, 5]}, (30, 28)),
    ({"kernel_size": 3, "dilation": 2}, (28, 28)),
    ({"kernel_size": 3, "padding": 1, "strides": 2}, (16, 16)),
    ({"kernel_size": 3, "padding": [1, 2]}, (32, 34)),  # one value per axis, both sides
    ({"kernel_size": 3, "padding": [1, 2, 3, 4]}, (34, 36)),  # begins (1, 2), ends (3, 4)
    ({"kernel_size": 4, "strides": 3, "padding": "same"}, (11, 11)),
]


@pytest.mark.parametrize(("keys", "hw"), CONV2D_CASES)
def test_conv2d(keys, hw):
    c = build([3, 32, 32], {"type": "conv2d", "filters": 16, **keys})
    assert out_shape(c) == (B, 16, *hw)
    ks = keys["kernel_size"]
    kh, kw = (ks, ks) if isinstance(ks, int) else ks
    assert c.cost.params == 16 * 3 * kh * kw + 16
    assert c.cost.flops == 16 * hw[0] * hw[1] * (2 * 3 * kh * kw + 1)


def _torch_pad(padding):
    return 0 if padding == "valid" else padding


@pytest.mark.parametrize(
    ("keys", "hw"),
    [
        c
        for c in CONV2D_CASES
        if c[0].get("padding") != "same"
        and not (isinstance(c[0].get("padding"), list) and len(c[0]["padding"]) == 4)
    ],
)
def test_conv2d_against_torch(keys, hw):
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(
        3, 16, keys["kernel_size"], stride=keys.get("strides", 1),
        padding=_torch_pad(keys.get("padding", "valid")), dilation=keys.get("dilation", 1),
    )  # fmt: skip
    c = build([3, 32, 32], {"type": "conv2d", "filters": 16, **keys})
    assert c.cost.params == torch_count(conv)
    assert tuple(conv(torch.zeros(1, 3, 32, 32)).shape[1:]) == out_shape(c)[1:]


@pytest.mark.parametrize(
    ("keys", "length"),
    [c for c in CONV1D_CASES if "strides" not in c[0] or c[0].get("padding") != "same"],
)
def test_conv1d_against_torch(keys, length):
    torch = pytest.importorskip("torch")
    k = keys["kernel_size"] if isinstance(keys["kernel_size"], int) else keys["kernel_size"][0]
    pad = keys.get("padding", "valid")
    pad = pad[0] if isinstance(pad, list) else pad
    conv = torch.nn.Conv1d(3, 8, k, stride=keys.get("strides", 1), padding=_torch_pad(pad),
                           dilation=keys.get("dilation", 1))  # fmt: skip
    assert torch_count(conv) == build([3, 20], {"type": "conv1d", "filters": 8, **keys}).cost.params
    assert conv(torch.zeros(1, 3, 20)).shape[-1] == length


def test_conv_symbolic_same_keeps_names():
    c = build(
        [3, "height", "width"],
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"},
    )
    assert out_shape(c) == (B, 8, "height", "width")


def test_conv_symbolic_valid_gives_expression_sized_by_dims():
    conv = {"type": "conv2d", "filters": 8, "kernel_size": 3, "strides": 2}
    c = build(
        [3, "height", "width"], conv, {"type": "global_avg_pool"}, dims={"height": 33, "width": 17}
    )
    h, w = c.graph.nodes[0].shape[2:]
    assert isinstance(h, str) and "height" in h and "width" in w
    assert (dim_size(h, {"height": 33}), dim_size(w, {"width": 17})) == (16, 8)
    assert c.cost.flops == 8 * 16 * 8 * (2 * 27 + 1) + 8 * 16 * 8  # sizes used, not 1


def test_conv_errors():
    d = shape_error([3, 4, 4], {"type": "conv2d", "filters": 2, "kernel_size": 5})
    assert d.path == ("model", "layers", 0, "kernel_size") and "larger than" in d.message
    d = shape_error(["c", 8, 8], {"type": "conv2d", "filters": 2, "kernel_size": 3})
    assert "channel axis" in d.message and "`c`" in d.message
    d = shape_error([3, 8, 8], {"type": "conv1d", "filters": 2, "kernel_size": 3})
    assert "rank 3" in d.message
    d = shape_error([3, 8, 8], {"type": "conv2d", "filters": 2, "kernel_size": [3, 3, 3]})
    assert d.path[-1] == "kernel_size"
    d = shape_error(
        [3, "h", "w"],
        {"type": "conv2d", "filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
    )
    assert d.path[-1] == "padding"


# -------------------------------------------------------------------------------------- pooling

POOL_CASES = [
    # (type, input, keys, expected spatial)
    ("max_pool1d", [4, 10], {"pool_size": 2}, (5,)),
    ("avg_pool1d", [4, 10], {"pool_size": 3, "strides": 2}, (4,)),
    ("max_pool1d", [4, 9], {"pool_size": 2, "padding": "same"}, (5,)),
    ("avg_pool1d", [4, 9], {"pool_size": 3, "strides": 1, "padding": 1}, (9,)),
    ("max_pool2d", [3, 9, 9], {"pool_size": 2}, (4, 4)),
    ("avg_pool2d", [3, 9, 9], {"pool_size": 2, "padding": "same"}, (5, 5)),
    ("max_pool2d", [3, 8, 9], {"pool_size": [2, 3]}, (4, 3)),
    ("avg_pool2d", [3, 8, 8], {"pool_size": 3, "strides": 1}, (6, 6)),
    ("max_pool2d", [3, 9, 9], {"pool_size": 2, "padding": 1}, (5, 5)),
]


@pytest.mark.parametrize(("ptype", "shape", "keys", "spatial"), POOL_CASES)
def test_pools(ptype, shape, keys, spatial):
    c = build(shape, {"type": ptype, **keys})
    assert out_shape(c) == (B, shape[0], *spatial)
    assert c.cost.params == 0
    ks = keys["pool_size"]
    window = ks ** len(spatial) if isinstance(ks, int) else ks[0] * ks[1]
    n_out = shape[0] * (spatial[0] * (spatial[1] if len(spatial) > 1 else 1))
    assert c.cost.flops == n_out * window


@pytest.mark.parametrize(
    ("ptype", "shape", "keys", "spatial"), [p for p in POOL_CASES if p[2].get("padding") != "same"]
)
def test_pools_against_torch(ptype, shape, keys, spatial):
    torch = pytest.importorskip("torch")
    nd = int(ptype[-2])
    cls = {"max": torch.nn.MaxPool1d, "avg": torch.nn.AvgPool1d} if nd == 1 else {
        "max": torch.nn.MaxPool2d, "avg": torch.nn.AvgPool2d}  # fmt: skip
    k = keys["pool_size"]
    pool = cls[ptype[:3]](k, stride=keys.get("strides", k), padding=keys.get("padding", 0))
    assert tuple(pool(torch.zeros(1, *shape)).shape[2:]) == spatial


def test_pool_errors():
    d = shape_error([3, 9], {"type": "max_pool1d", "pool_size": 2, "padding": 2})
    assert d.path[-1] == "padding"
    d = shape_error([3, 9], {"type": "max_pool2d", "pool_size": 2})
    assert "rank 4" in d.message
    d = shape_error([3, 2, 2], {"type": "avg_pool2d", "pool_size": 3})
    assert d.path[-1] == "pool_size"


@pytest.mark.parametrize("gtype", ["global_avg_pool", "global_max_pool"])
def test_global_pools(gtype):
    c = build([16, 7, 7], {"type": gtype})
    assert out_shape(c) == (B, 16) and c.cost.flops == 16 * 49
    assert out_shape(build([8, 20], {"type": gtype})) == (B, 8)  # channels-first 1-D
    assert out_shape(build(["time", 3], {"type": gtype})) == (B, 3)  # (time, features)
    c = build(["time", 3], {"type": "lstm", "units": 8, "return_sequences": True}, {"type": gtype})
    assert out_shape(c) == (B, 8)
    c = build(
        [12], {"type": "embedding", "vocab_size": 50, "dim": 6}, {"type": gtype}, dtype="int64"
    )
    assert out_shape(c) == (B, 6)
    shape_error([5], {"type": gtype})
    shape_error(["time", 3], {"type": "lstm", "units": 8}, {"type": gtype})


def test_symbolic_image_through_conv_global_pool_dense():
    c = build(
        [3, "height", "width"],
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "global_avg_pool"},
        {"type": "dense", "units": 4},
    )
    assert [n.shape for n in c.graph.nodes] == [
        (B, 8, "height", "width"), (B, 8, "height", "width"), (B, 8), (B, 4)]  # fmt: skip
    assert c.cost.params == (8 * 3 * 9 + 8) + (8 * 4 + 4)
    assert c.cost.symbolic == ("height", "width")


def test_symbolic_size_reaches_dense_only_through_global_pool():
    d = shape_error([3, "height", "width"], {"type": "conv2d", "filters": 8, "kernel_size": 3,
                                             "padding": "same"}, {"type": "flatten"})  # fmt: skip
    assert "global pooling" in d.message and d.path == ("model", "layers", 1)
    d = shape_error(["time", 3], {"type": "lstm", "units": 4, "return_sequences": True},
                    {"type": "reshape", "shape": [-1]})  # fmt: skip
    assert "`time`" in d.message
    d = shape_error([3, "n"], {"type": "dense", "units": 2})
    assert "symbolic" in d.message


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
