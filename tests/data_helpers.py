"""A one-layer spec around a [data] table, for the data tests."""

from __future__ import annotations

from netspec.spec import validate_data
from netspec.spec.positions import SourceMap

OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "identity", "mae": "identity"}


def data_spec(data: dict, input_shape=(3,), loss="cross_entropy", units=3, seed=0, input_dtype="float32"):
    return validate_data(
        {
            "name": "t",
            "seed": seed,
            "data": data,
            "model": {
                "input_shape": list(input_shape),
                "input_dtype": input_dtype,
                "layers": [{"type": "dense", "units": units, "activation": OUTPUT[loss]}],
            },
            "train": {"epochs": 1, "loss": loss},
        },
        SourceMap("t.toml"),
    )
