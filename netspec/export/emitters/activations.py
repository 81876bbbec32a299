"""relu, leaky_relu (alpha always written), sigmoid, tanh, softmax (last axis, opset >= 13)."""

from __future__ import annotations

from . import emitter

_SIMPLE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


@emitter(*_SIMPLE)
def simple(ctx, node):
    return [ctx.node(node, _SIMPLE[node.op], [ctx.input(node)], [ctx.output(node)])]


@emitter("leaky_relu")
def leaky_relu(ctx, node):
    alpha = float(node.attrs["alpha"])
    return [ctx.node(node, "LeakyRelu", [ctx.input(node)], [ctx.output(node)], alpha=alpha)]


@emitter("softmax")
def softmax(ctx, node):
    # Softmax-13 normalizes along `axis` alone (older opsets flattened the trailing axes).
    return [ctx.node(node, "Softmax", [ctx.input(node)], [ctx.output(node)], axis=-1)]
