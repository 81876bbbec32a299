"""Shape-only and stochastic ops: dropout, gaussian_noise, flatten, reshape; and embedding.

Identity cases (dropout at inference or rate 0, noise at inference, the backward of noise)
return the very array they were given, and flatten/reshape return views: the executor must treat
kernel outputs and returned gradients as read-only.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Shape
from .registry import OpDef, ParamSpec, ShapeError, register
from .shapes import fixed, format_dims


def same_shape(attrs: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def _free(attrs, ins, out) -> int:
    return 0


def flatten_infer(attrs: dict, ins: list[Shape]) -> Shape:
    (x,) = ins
    dims = [fixed(d, "every axis of a flatten layer's input") for d in x[1:]]
    return (x[0], prod(dims))


def reshape_infer(attrs: dict, ins: list[Shape]) -> Shape:
    (x,) = ins
    dims = [fixed(d, "every axis of a reshape layer's input") for d in x[1:]]
    target = list(attrs["shape"])
    total = prod(dims)
    if target.count(-1) > 1:
        raise ShapeError("at most one dimension may be -1", "shape")
    if 0 in target:
        raise ShapeError("dimensions must be >= 1 (or -1 for one inferred dimension)", "shape")
    known = prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ShapeError(f"cannot reshape {total} values into {target}", "shape")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(
            f"cannot reshape {format_dims(x)} ({total} values per sample) into {target} "
            f"({known} values)",
            "shape",
        )
    return (x[0], *target)


def embedding_infer(attrs: dict, ins: list[Shape]) -> Shape:
    return (*ins[0], attrs["dim"])


def embedding_params(attrs: dict, ins: list[Shape]) -> dict[str, ParamSpec]:
    v, d = attrs["vocab_size"], attrs["dim"]
    return {"weight": ParamSpec((v, d), attrs["init"], v, d)}


def dropout_forward(attrs, xs, params, ctx):
    """Inverted dropout: kept units are scaled by 1/(1-rate) so inference is the identity.
    The mask compares raw 32-bit draws with rate * 2**32 (faster than uniform floats); it does
    not depend on the dtype, so a seed gives the same mask in float32 and float64 runs."""
    x, rate = xs[0], attrs["rate"]
    if not ctx.training or rate == 0:
        return x, None
    n = x.size
    bits = ctx.rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    keep = bits >= np.uint32(min(round(rate * 2**32), 2**32 - 1))
    mask = keep.reshape(x.shape).astype(x.dtype)
    mask *= 1 / (1 - rate)
    return x * mask, mask


def dropout_backward(attrs, dy, mask, params, grads, need_dx, ctx):
    if not need_dx[0]:
        return [None]
    return [dy if mask is None else dy * mask]


def noise_forward(attrs, xs, params, ctx):
    x, std = xs[0], attrs["stddev"]
    if not ctx.training or std == 0:
        return x, None
    noise = ctx.rng.standard_normal(x.shape, dtype=np.float32).astype(x.dtype, copy=False)
    noise *= std
    noise += x
    return noise, None


def identity_backward(attrs, dy, cache, params, grads, need_dx, ctx):
    return [dy if need_dx[0] else None]


def flatten_forward(attrs, xs, params, ctx):
    x = xs[0]
    return x.reshape(x.shape[0], -1), x.shape


def reshape_forward(attrs, xs, params, ctx):
    x = xs[0]
    return x.reshape(x.shape[0], *attrs["shape"]), x.shape


def unshape_backward(attrs, dy, in_shape, params, grads, need_dx, ctx):
    return [dy.reshape(in_shape) if need_dx[0] else None]


def embedding_forward(attrs, xs, params, ctx):
    ids = xs[0]
    return np.take(params["weight"], ids, axis=0), ids


def embedding_backward(attrs, dy, ids, params, grads, need_dx, ctx):
    """Scatter-add rows of dy into dW. Flat 1-D indices make np.add.at take its fast path
    (about 5x faster than adding whole rows at 2-D indices). Token ids get no gradient."""
    gw = grads.get("weight")
    if gw is not None:
        d = gw.shape[1]
        gw.fill(0)
        if gw.flags.c_contiguous:
            flat = (ids.reshape(-1, 1) * d + np.arange(d)).reshape(-1)
            np.add.at(gw.reshape(-1), flat, dy.reshape(-1))
        else:  # reshape would copy: add whole rows instead
            np.add.at(gw, ids.reshape(-1), dy.reshape(-1, d))
    return [None]


register(
    OpDef(
        "dropout",
        same_shape,
        inference_identity=True,
        forward=dropout_forward,
        backward=dropout_backward,
    )
)
register(
    OpDef(
        "gaussian_noise",
        same_shape,
        inference_identity=True,
        forward=noise_forward,
        backward=identity_backward,
    )
)
register(
    OpDef("flatten", flatten_infer, flops=_free, forward=flatten_forward, backward=unshape_backward)
)
register(
    OpDef("reshape", reshape_infer, flops=_free, forward=reshape_forward, backward=unshape_backward)
)
register(
    OpDef(
        "embedding",
        embedding_infer,
        embedding_params,
        flops=_free,
        forward=embedding_forward,
        backward=embedding_backward,
    )
)
