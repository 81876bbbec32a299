"""Properties of the spec front end: whatever a user writes, netspec answers with a compiled model
or located diagnostics, never another exception.

Specs are generated from valid and invalid fragments (layer types, keys, values of every JSON
type, random wiring), written out as TOML and JSON text, then parsed, validated and compiled.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.compiler import Compiled, compile_spec
from netspec.errors import SpecError
from netspec.spec import load_spec, parse_text, validate_data
from netspec.spec.layers import LAYER_TYPES
from netspec.spec.positions import SourceMap

GOOD = Path(__file__).resolve().parent / "good_specs"
CODES = {
    "syntax", "file", "missing-key", "unknown-key", "unknown-type", "type", "value",
    "duplicate-name", "unknown-input", "cycle", "unused-layer", "shape", "loss-output",
    "expect", "too-large",
}  # fmt: skip
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- fragments

NAMES = ["a", "b", "c", "hidden", "input", "a.b", ""]
SCALARS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 8, -1, 10**12]),
    st.sampled_from([0.0, 0.5, 0.99, 1.0, 2.5, -0.1, math.nan, math.inf, -math.inf]),
    st.booleans(),
    st.sampled_from(
        ["relu", "softmax", "sigmoid", "same", "valid", "time", "batch", "x", "3", "adam"]
    ),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.sampled_from([[3, 3], [1, 8, -1], [2, 2, 2], []]),
    st.dictionaries(st.sampled_from(["type", "units", "x"]), SCALARS, max_size=2),
)
LAYER_KEYS = sorted(
    {k for cls in LAYER_TYPES.values() for k in cls.model_fields} - {"type", "name", "inputs"}
)
GOOD_VALUES = {
    "units": st.sampled_from([1, 2, 3, 6, 10**9]), "filters": st.sampled_from([1, 4, 10**6]), "kernel_size": st.sampled_from([1, 2, 3, [2, 2]]),
    "pool_size": st.sampled_from([1, 2, [2, 1]]), "strides": st.sampled_from([1, 2]),
    "padding": st.sampled_from(["valid", "same", 1]), "rate": st.sampled_from([0.0, 0.5]),
    "stddev": st.just(0.1), "function": st.sampled_from(["relu", "softmax", "identity", "leaky_relu"]),
    "activation": st.sampled_from(["relu", "softmax", "sigmoid", "identity", "tanh"]),
    "shape": st.sampled_from([[-1], [2, -1], [4], [1, 2, 2]]), "vocab_size": st.integers(1, 20),
    "dim": st.integers(1, 4), "axis": st.sampled_from([-1, 1, 2, 0, 5]), "return_sequences": st.booleans(),
    "init": st.sampled_from(["zeros", "he_normal", "glorot_uniform"]), "momentum": st.sampled_from([0.5, 0.9]),
}  # fmt: skip


@st.composite
def layer(draw, names: list[str], noisy: bool) -> dict:
    """A layer table: well-formed (valid keys and values, random wiring) or noisy (unknown types
    and keys, values of any type)."""
    types = [*LAYER_TYPES, *LAYER_TYPES, "dens", "Dense", 3, None] if noisy else list(LAYER_TYPES)
    kind = draw(st.sampled_from(types))
    out: dict = {} if kind is None else {"type": kind}
    cls = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is not None and (not noisy or draw(st.booleans())):
        for key, field in cls.model_fields.items():
            if field.is_required() and key != "type":
                out[key] = draw(GOOD_VALUES.get(key, VALUES))
    if noisy:
        keys = st.sampled_from([*LAYER_KEYS, "unit", "lr", "kernel"])
    else:
        keys = st.sampled_from(sorted(set(cls.model_fields) & set(GOOD_VALUES)) or ["trainable"])
    for key in draw(st.lists(keys, max_size=3)):
        good = key in GOOD_VALUES and (not noisy or draw(st.booleans()))
        out[key] = draw(GOOD_VALUES[key] if good else VALUES if noisy else st.booleans())
    if draw(st.integers(0, 3)) == 0:
        out["name"] = draw(st.sampled_from(NAMES if noisy else names))
    if draw(st.integers(0, 3)) == 0:
        refs = [*names, "input", "nope"] if noisy else [*names, "input"]
        out["inputs"] = draw(
            st.lists(st.sampled_from(refs), min_size=0 if noisy else 1, max_size=3)
        )
    return out


@st.composite
def spec_data(draw) -> dict:
    noisy = draw(st.booleans())
    names = ["a", "b", "c", "hidden"]
    layers = draw(st.lists(layer(names, noisy), min_size=0 if noisy else 1, max_size=6))
    if not noisy and draw(st.booleans()):  # name every layer: wiring by `inputs` becomes a DAG test
        for name, item in zip(names, layers):
            item["name"] = name
    shapes = [[4], [1, 8, 8], [3, "h", "w"], ["time", 3], ["time"], [2, 16], [1, 6]]
    model: dict = {
        "input_shape": draw(
            st.sampled_from([*shapes, ["batch", 4], [0], 5, [2.5]] if noisy else shapes)
        ),
        "layers": layers if not noisy or draw(st.integers(0, 9)) else draw(VALUES),
    }
    if draw(st.integers(0, 3)) == 0:
        model["input_dtype"] = draw(
            st.sampled_from(["float32", "int64", "float16"] if noisy else ["float32", "int64"])
        )
    train: dict = {
        "epochs": draw(st.sampled_from([1, 0, 2.0, "3"] if noisy else [1, 5])),
        "loss": draw(
            st.sampled_from(
                ["mse", "mae", "cross_entropy", "binary_cross_entropy"] + ["mes"] * noisy
            )
        ),
    }
    if draw(st.booleans()):
        train["optimizer"] = draw(st.one_of(
            st.fixed_dictionaries({"type": st.sampled_from(["sgd", "adam", "rmsprop", "adamw"])},
                                  optional={"learning_rate": SCALARS, "momentum": SCALARS, "lr": SCALARS}),
            VALUES,
        ) if noisy else st.just({"type": "adam", "learning_rate": 0.01}))  # fmt: skip
    if noisy and draw(st.booleans()):
        train["schedule"] = draw(st.fixed_dictionaries(
            {"type": st.sampled_from(["constant", "step", "cosine", "exponential", "linear"])},
            optional={"step_size": SCALARS, "gamma": SCALARS}))  # fmt: skip
    data: dict = {
        "name": draw(st.sampled_from(["ok", "bad name", 3] if noisy else ["ok"])),
        "model": model,
        "train": train,
    }
    for key in (
        draw(
            st.lists(
                st.sampled_from(["model", "train", "name", "seed", "data", "expect", "units"]),
                max_size=2,
            )
        )
        if noisy
        else []
    ):
        data.pop(key, None) if key in ("model", "train", "name") else data.__setitem__(
            key, draw(VALUES)
        )
    if draw(st.booleans()):
        data["expect"] = draw(st.fixed_dictionaries({}, optional={
            "params": st.integers(0, 100), "output_shape": st.sampled_from([["batch", 1], [1], ["x", 0]]),
            "max_flops": st.integers(0, 100)}))  # fmt: skip
    return data


# ---------------------------------------------------------------- writers

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, (int, str)):
        return json.dumps(v) if isinstance(v, str) else str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


def to_toml(data: dict) -> str:
    """Top-level scalars, then one [table] per table, layers as [[model.layers]]."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in ((k, v) for k, v in data.items() if isinstance(v, dict)):
        lines.append(f"[{toml_key(name)}]")
        layers = table.get("layers")
        aot = isinstance(layers, list) and layers and all(isinstance(x, dict) for x in layers)
        lines += [
            f"{toml_key(k)} = {toml_value(v)}"
            for k, v in table.items()
            if not (aot and k == "layers")
        ]
        for item in layers if aot else []:
            lines.append(f"[[{toml_key(name)}.layers]]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- checks


def outcome(text: str, fmt: str):
    """Parse, validate and compile; a Compiled or a SpecError, and nothing else."""
    try:
        data, smap = parse_text(text, f"spec.{fmt}", fmt)
        return compile_spec(validate_data(data, smap))
    except SpecError as exc:
        return exc


def check_diagnostics(result, text: str, fmt: str, data: dict | None = None) -> None:
    if isinstance(result, Compiled):
        return
    assert isinstance(result, SpecError) and result.diagnostics
    lines = text.split("\n")
    for d in result.diagnostics:
        assert d.code in CODES, d
        assert d.line >= 1 and d.col >= 1, d
        assert d.line <= max(len(lines), 1), d
        rendered = d.render()
        assert not any(leak in rendered for leak in ("Input should", "function-", "literal[")), d
        assert "\n" not in rendered and rendered.startswith(
            f"spec.{fmt}:{d.line}:{d.col}: error[{d.code}]: "
        )
        if data is not None and written(data, d.path) and isinstance(d.path[-1], str):
            at = lines[d.line - 1][d.col - 1 :]  # a key the user wrote: the position is that key
            key = d.path[-1]  # (or the [table] header it names)
            assert at.lstrip("[").startswith((json.dumps(key), toml_key(key))), (d, at)


def written(data, path: tuple) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node or isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return bool(path)


@SETTINGS
@given(spec_data())
def test_generated_specs_compile_or_fail_with_located_errors(data: dict) -> None:
    for fmt, text in (("json", json.dumps(data, indent=2)), ("toml", to_toml(data))):
        check_diagnostics(outcome(text, fmt), text, fmt, data)


@SETTINGS
@given(spec_data())
def test_validate_without_positions_never_crashes(data: dict) -> None:
    try:
        result = compile_spec(validate_data(data, SourceMap("spec.toml")))
    except SpecError as exc:
        result = exc
    check_diagnostics(result, "", "toml")


def good_texts() -> list[tuple[str, str]]:
    return [(p.read_text(encoding="utf-8-sig"), p.suffix[1:]) for p in sorted(GOOD.iterdir())
            if p.suffix in (".toml", ".json")]  # fmt: skip


@SETTINGS
@given(st.sampled_from(good_texts()), st.data())
def test_edited_good_specs_never_crash(source: tuple[str, str], draw) -> None:
    """Typos anywhere in a good spec (a character deleted, doubled or replaced) give located
    diagnostics: this exercises the syntax-error explanations on broken text."""
    text, fmt = source
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, len(text) - 1))
        edit = draw.draw(st.sampled_from(["delete", "double", "replace"]))
        ch = draw.draw(st.sampled_from(list("\"'[]{}=,.#\n x1-")))
        text = {"delete": text[:i] + text[i + 1 :], "double": text[:i] + text[i] + text[i:],
                "replace": text[:i] + ch + text[i + 1 :]}[edit]  # fmt: skip
    check_diagnostics(outcome(text, fmt), text, fmt)


def test_good_specs_round_trip() -> None:
    """load -> model_dump(exclude_unset) -> validate again gives an equal model, directly and
    through JSON text."""
    paths = sorted(p for p in GOOD.iterdir() if p.suffix in (".toml", ".json"))
    assert len(paths) >= 12
    for path in paths:
        spec = load_spec(path)
        dumped = spec.model_dump(exclude_unset=True)
        again = validate_data(dumped, spec.source)
        assert again == spec, path.name
        data, smap = parse_text(json.dumps(dumped), "again.json", "json")
        assert validate_data(data, smap).model_dump() == spec.model_dump(), path.name
        assert isinstance(compile_spec(again), Compiled)
