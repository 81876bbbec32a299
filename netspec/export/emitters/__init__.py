"""The ONNX emitter table: one emitter per IR op, keyed by the same name as the kernel registry.

An emitter is `fn(ctx, node) -> list[onnx.NodeProto | onnx.TensorProto]`: the ONNX nodes that
compute `node`'s output (named `ctx.output(node)`) and the initializers they read. Each family
module registers its emitters with `@emitter("op", ...)`; `get_emitter` lists what exists when a
lookup fails. Ops that are the identity at inference (dropout, gaussian_noise) register an
emitter that emits nothing and rewires the node's output to its input.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ExportError

Emitter = Callable[..., list]
EMITTERS: dict[str, Emitter] = {}


def emitter(*names: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for name in names:
            if name in EMITTERS:
                raise ValueError(f"emitter for op {name!r} registered twice")
            EMITTERS[name] = fn
        return fn

    return register


def get_emitter(name: str) -> Emitter:
    all_emitters()
    try:
        return EMITTERS[name]
    except KeyError:
        raise ExportError(
            f"no ONNX emitter for op {name!r}; known emitters: {', '.join(sorted(EMITTERS))}"
        ) from None


def all_emitters() -> dict[str, Emitter]:
    # Importing the family modules registers their emitters.
    from . import activations, conv, dense, merge, misc, normalization, pool, recurrent, repeat, slice  # noqa: F401

    return EMITTERS
