"""Shape inference, parameter counts and FLOPs of conv and pooling layers: hand-computed values
and PyTorch's own output shapes and counts."""

from __future__ import annotations

import pytest
from shape_helpers import B, build, out_shape, shape_error, torch_count

from netspec.kernels.shapes import dim_size

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
