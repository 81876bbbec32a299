"""Words for validation errors: what a key is for, where a misplaced key belongs, and the fix.

Every message states the rule, the value received and how to fix it, in the user's terms.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel

from ..errors import closest, did_you_mean
from . import models as M
from .layers import LAYER_TYPES, LayerBase
from .types import _describe

# Short help for keys, shown with missing-key and range errors.
HELP = {
    "name": 'the experiment name, e.g. name = "digits-cnn"',
    "model": "the network: a [model] table with input_shape and [[model.layers]]",
    "train": "how to fit the model: a [train] table with epochs and loss",
    "input_shape": "the per-sample input shape, e.g. input_shape = [1, 8, 8]",
    "layers": "the network's layers, one [[model.layers]] table each",
    "type": "what kind of thing this table is",
    "epochs": "the number of passes over the training data, e.g. epochs = 30",
    "loss": 'the loss to minimize, e.g. loss = "cross_entropy"',
    "batch_size": "the number of examples per gradient step, e.g. batch_size = 32",
    "path": 'the data file, e.g. path = "data.csv"',
    "units": "the number of output units, e.g. units = 64",
    "filters": "the number of output channels, e.g. filters = 16",
    "kernel_size": "the window size, e.g. kernel_size = 3",
    "pool_size": "the window size, e.g. pool_size = 2",
    "function": 'the activation function, e.g. function = "relu"',
    "rate": "the fraction of inputs dropped while training, 0 <= rate < 1",
    "stddev": "the standard deviation of the noise, >= 0",
    "shape": "the per-sample output shape, e.g. shape = [4, 4]",
    "vocab_size": "the number of distinct token ids",
    "dim": "the size of each embedding vector",
    "momentum": "a moving-average factor, 0 <= momentum < 1",
    "beta1": "a moving-average factor, 0 <= beta1 < 1",
    "beta2": "a moving-average factor, 0 <= beta2 < 1",
    "rho": "a moving-average factor, 0 <= rho < 1",
    "learning_rate": "the step size, a number > 0 such as 0.001",
    "epsilon": "a small number > 0 that avoids division by zero",
    "gamma": "the factor the learning rate is multiplied by, 0 < gamma <= 1",
    "step_size": "the number of epochs between learning-rate drops",
    "patience": "the number of epochs without improvement before stopping",
    "l1": "an L1 penalty weight, >= 0",
    "l2": "an L2 penalty weight, >= 0",
    "seed": "a whole number >= 0",
    "window": "the number of steps per example",
}

# Names users bring from other libraries -> the spec's key.
ALIASES = {
    "lr": "learning_rate", "learningrate": "learning_rate", "eta": "learning_rate",
    "kernel": "kernel_size", "ksize": "kernel_size", "stride": "strides", "pool": "pool_size",
    "act": "activation", "activation_fn": "activation", "nonlinearity": "activation",
    "out_features": "units", "hidden_size": "units", "num_units": "units", "neurons": "units",
    "size": "units", "out_channels": "filters", "channels": "filters", "num_filters": "filters",
    "p": "rate", "dropout": "rate", "dropout_rate": "rate", "bias": "use_bias",
    "num_epochs": "epochs", "n_epochs": "epochs", "batchsize": "batch_size", "bs": "batch_size",
    "optim": "optimizer", "scheduler": "schedule", "lr_schedule": "schedule",
    "weight_decay": "l2", "input_size": "input_shape", "input_dim": "input_shape",
    "embedding_dim": "dim", "embed_dim": "dim", "num_embeddings": "vocab_size",
    "vocab": "vocab_size", "eps": "epsilon", "decay": "gamma", "activation": "function",
    "layer": "type", "kind": "type", "input": "inputs", "from": "inputs",
}  # fmt: skip

# Values users bring from Keras / PyTorch -> the spec's value.
VALUE_ALIASES = {
    "categorical_crossentropy": "cross_entropy", "sparse_categorical_crossentropy": "cross_entropy",
    "crossentropy": "cross_entropy", "crossentropyloss": "cross_entropy", "nll": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy", "bce": "binary_cross_entropy",
    "bcewithlogitsloss": "binary_cross_entropy", "mean_squared_error": "mse", "mseloss": "mse",
    "mean_absolute_error": "mae", "l1loss": "mae", "linear": "identity", "none": "identity",
    "acc": "accuracy", "lrelu": "leaky_relu", "leakyrelu": "leaky_relu", "logistic": "sigmoid",
    "xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal",
}  # fmt: skip

_TABLES: list[tuple[str, type[BaseModel]]] = [
    ("the top level", M.Spec), ("[data]", M.Data), ("data.split", M.Split), ("[model]", M.Model),
    ("[train]", M.Train), ("train.early_stopping", M.EarlyStopping), ("[expect]", M.Expect),
]  # fmt: skip
_TAGGED: list[tuple[str, list[type[BaseModel]]]] = [
    ("train.optimizer", [M.SGD, M.Adam, M.RMSprop]),
    ("train.schedule", [M.Constant, M.StepSchedule, M.Exponential, M.Cosine]),
]
TAGS = {
    "layers": list(LAYER_TYPES),
    "optimizer": ["sgd", "adam", "rmsprop"],
    "schedule": ["constant", "step", "exponential", "cosine"],
}
_NOUNS = {"activation": "activation function", "function": "activation function", "init": "initializer",
          "loss": "loss", "metrics": "metric", "input_dtype": "input dtype", "dtype": "dtype",
          "mode": "mode"}  # fmt: skip
_COMMON = set(LayerBase.model_fields)


def _tag(cls: type[BaseModel]) -> str | None:
    f = cls.model_fields.get("type")
    return f.annotation.__args__[0] if f is not None else None


def describe_table(cls: type[BaseModel] | None) -> str:
    if cls is None:
        return "this table"
    if cls is M.Spec:
        return "the top level"
    if cls in LAYER_TYPES.values():
        tag = _tag(cls)
        return f"{'an' if tag[0] in 'aeiou' else 'a'} {tag} layer"
    for name, members in _TAGGED:
        if cls in members:
            return f'{name} (type = "{_tag(cls)}")'
    return next((name for name, c in _TABLES if c is cls), "this table")


def homes(key: str, here: type[BaseModel] | None) -> str | None:
    """Where else `key` is a valid key, in user words (None when nowhere)."""
    places = [
        "at the top level" if cls is M.Spec else f"in {name}"
        for name, cls in _TABLES
        if key in cls.model_fields and cls is not here
    ]
    layer_types = [
        t for t, cls in LAYER_TYPES.items() if key in cls.model_fields and cls is not here
    ]
    if layer_types and key not in _COMMON:
        places.append(f"in [[model.layers]] of type {', '.join(layer_types)}")
    for name, members in _TAGGED:
        tags = [
            _tag(c) for c in members if key in c.model_fields and key != "type" and c is not here
        ]
        if tags:
            places.append(f"in {name} of type {', '.join(tags)}")
    return " or ".join(places) if places else None


def unknown_key(key: str, cls: type[BaseModel] | None, toml: bool = True) -> str:
    allowed = sorted(cls.model_fields) if cls is not None else []
    here = describe_table(cls)
    where_here = "at the top level" if cls is M.Spec else f"in {here}"
    alias = ALIASES.get(key.lower()) if isinstance(key, str) else None
    guess = alias if alias in allowed else closest(key, allowed)
    if guess:
        return f"unknown key `{key}` {where_here}; did you mean `{guess}`?"
    where = homes(key, cls)
    not_here = "not a top-level key" if cls is M.Spec else f"not a key of {here}"
    if where and where.startswith("at the top level"):
        move = (
            "move it above the first [table] header" if toml else "move it to the outermost object"
        )
        note = " (in TOML, every key after a header belongs to that table)" if toml else ""
        return f"`{key}` is {not_here}; it belongs at the top level: {move}{note}"
    if where:
        note = " (in TOML, every key after a [table] header belongs to that table)" if toml else ""
        return f"`{key}` is {not_here}; it belongs {where}{note}"
    listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
    return f"unknown key `{key}` {where_here}{listing}"


def missing_key(key: str, cls: type[BaseModel] | None) -> str:
    help_ = f": {HELP[key]}" if key in HELP else ""
    where = "at the top level" if cls is M.Spec else f"in {describe_table(cls)}"
    return f"missing required key `{key}` {where}{help_}"


def _choices(ctx_text: str) -> list[str]:
    return re.findall(r"'([^']*)'", ctx_text)


def unknown_tag(got: Any, tags: list[str], path: tuple) -> tuple[str, str]:
    what = (
        "layer type" if "layers" in path else ("optimizer" if "optimizer" in path else "schedule")
    )
    if not isinstance(got, str):
        return (
            "type",
            f"`type` must be a string naming the {what} (one of: {', '.join(tags)}), got {_describe(got)}",
        )
    hint = did_you_mean(got, tags, quote='"')
    return "unknown-type", f'unknown {what} "{got}"{hint} (one of: {", ".join(tags)})'


def tags_for(path: tuple) -> list[str]:
    """The `type` values allowed for the tagged table at (or holding) `path`."""
    key = next((p for p in reversed(path) if isinstance(p, str) and p in TAGS), None)
    return TAGS[key] if key else []


def missing_tag(path: tuple, table: Any) -> str:
    what = (
        "the layer type"
        if "layers" in path
        else ("the optimizer" if "optimizer" in path else "the schedule")
    )
    near = closest("type", [k for k in table if k != "type"]) if isinstance(table, dict) else None
    hint = f" (is `{near}` a misspelling of `type`?)" if near else ""
    return f"missing required key `type`: {what}, one of: {', '.join(tags_for(path))}{hint}"


def literal(got: Any, expected_text: str, key: str) -> tuple[str, str]:
    expected = _choices(expected_text)
    noun = _NOUNS.get(key, "value")
    listing = ", ".join(expected)
    if not isinstance(got, str):
        return (
            "type",
            f"expected a string naming the {noun} (one of: {listing}), got {_describe(got)}",
        )
    alias = VALUE_ALIASES.get(got.lower())
    hint = f'; did you mean "{alias}"?' if alias in expected else did_you_mean(got, expected, quote='"')
    return "value", f'unknown {noun} "{got}"{hint} (one of: {listing})'


_TYPE_WORDS = {
    "int_type": "a whole number", "int_from_float": "a whole number", "int_parsing": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "model_type": "a table", "dict_type": "a table", "model_attributes_type": "a table",
}  # fmt: skip


def _number_text(got: str) -> str | None:
    """The text of a number written in quotes ("3", "0.5"), else None."""
    try:
        value = float(got.replace("_", ""))
    except ValueError:
        return None
    return got.strip() if math.isfinite(value) else None


def wrong_type(kind: str, got: Any, key: Any, path: tuple, tags: list[str]) -> str:
    want = _TYPE_WORDS[kind]
    msg = f"expected {want}, got {_describe(got)}"
    fix = ""
    if want in ("a whole number", "a number"):
        if isinstance(got, float) and got.is_integer() and want == "a whole number":
            fix = f"write {int(got)} (no decimal point)"
        elif isinstance(got, str) and _number_text(got):
            fix = f"remove the quotes: {_number_text(got)}"
        elif isinstance(got, bool):
            fix = "write a number, not true or false"
        elif isinstance(got, list):
            fix = "write a single number, not a list"
    elif want == "true or false":
        if isinstance(got, str) and got.lower() in ("true", "false", "yes", "no", "1", "0"):
            fix = (
                f"write {'true' if got.lower() in ('true', 'yes', '1') else 'false'} without quotes"
            )
        elif isinstance(got, (int, float)):
            fix = "write true or false"
    elif want == "a string":
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            fix = f'put it in quotes: "{got}"'
    elif want == "a list":
        if key == "layers" and isinstance(got, dict):
            fix = "write each layer as its own [[model.layers]] table"
        elif not isinstance(got, dict):
            fix = f"write a list: [{'...' if isinstance(got, str) else got}]"
        else:
            fix = "write a list [...] instead of a table"
    elif want == "a table":
        if isinstance(got, str) and got in tags and isinstance(path[-1], int):
            fix = f'write a table such as {{ type = "{got}", ... }}'
        elif isinstance(got, str) and got in tags:
            fix = f'write {key} = {{ type = "{got}" }}'
        elif "layers" in path and isinstance(path[-1], int):
            fix = 'each layer is a table such as { type = "dense", units = 8 }'
    return f"{msg}; {fix}" if fix else msg


_RANGE_WORDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def out_of_range(kind: str, ctx: dict, got: Any, key: Any) -> str:
    limit = next(iter(ctx.values()), "?")
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    help_ = f"; {key} is {HELP[key]}" if isinstance(key, str) and key in HELP else ""
    if key in ("train", "val", "test"):  # data.split fractions, not the [train] table
        help_ = "; split fractions lie between 0 and 1 and add up to 1 (write 0.8, not 80)"
    return f"must be {_RANGE_WORDS[kind]} {limit}, got {_describe(got)}{help_}"


def is_range(kind: str) -> bool:
    return kind in _RANGE_WORDS


def is_type(kind: str) -> bool:
    return kind in _TYPE_WORDS
