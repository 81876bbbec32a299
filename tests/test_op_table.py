"""Every op is complete: found by its name, it has a shape rule, forward and backward kernels,
a FLOP count and an ONNX emitter; and every layer type of the spec language lowers to ops that
exist."""

from __future__ import annotations

import pytest

from netspec.compiler.lower import LOWER
from netspec.export.emitters import all_emitters
from netspec.kernels.registry import all_ops
from netspec.spec.layers import LAYER_TYPES


@pytest.mark.parametrize("name", sorted(all_ops()))
def test_op_has_every_concern(name):
    op = all_ops()[name]
    assert callable(op.infer) and callable(op.params) and callable(op.flops)
    assert callable(op.forward), f"{name}: no forward kernel"
    assert callable(op.backward), f"{name}: no backward kernel"
    assert name in all_emitters(), f"{name}: no ONNX emitter"


def test_every_layer_type_lowers():
    assert set(LOWER) == set(LAYER_TYPES)


def test_no_emitter_without_an_op():
    assert set(all_emitters()) <= set(all_ops())
