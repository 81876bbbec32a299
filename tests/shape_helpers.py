"""Helpers shared by the shape-inference tests: compile a one-model spec from layer dicts."""

from __future__ import annotations

import pytest

from netspec.compiler import Compiled, compile_spec
from netspec.errors import SpecError
from netspec.spec import Spec

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
