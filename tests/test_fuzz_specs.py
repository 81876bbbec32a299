"""Fuzzing `netspec check`: specs generated from the committed JSON Schema, and mutations of the
example specs, must exit 0 (valid) or 1 (a located error), never 4 (an internal error), and
print exactly one JSON document with --json. Bounded: a fixed number of examples, no deadline
per example, well under a minute in CI."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardening_helpers import ROOT, runner
from netspec_cli.main import app

hypothesis_jsonschema = pytest.importorskip("hypothesis_jsonschema")

SCHEMA = json.loads((ROOT / "specs" / "schema" / "netspec.schema.json").read_text())
EXAMPLES = sorted((ROOT / "specs").glob("*.toml"))
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


def _check(doc, tmp: Path, text: str | None = None) -> None:
    path = tmp / "fuzz.json"
    if text is None:
        text = json.dumps(doc, allow_nan=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    res = runner.invoke(app, ["check", str(path), "--json"])
    assert res.exit_code in (0, 1), (res.exit_code, res.stderr, text[:2000])
    json.loads(res.stdout)  # exactly one document


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _schema_specs():
    """Specs drawn from the committed schema. Each layer is drawn from its own $defs entry and
    the top level with the layer list left out: the same documents the whole schema describes,
    ~7x faster than generating through the layers' 20-way oneOf."""
    defs = SCHEMA["$defs"]
    mapping = defs["Model"]["properties"]["layers"]["items"]["discriminator"]["mapping"]
    layer = st.one_of([hypothesis_jsonschema.from_schema({**defs[ref.rsplit("/", 1)[1]], "$defs": defs})
                       for ref in sorted(mapping.values())])  # fmt: skip
    top = json.loads(json.dumps(SCHEMA))
    top["$defs"]["Model"]["properties"]["layers"] = {"type": "array", "maxItems": 0}
    rest = hypothesis_jsonschema.from_schema(top)

    @st.composite
    def spec(draw):
        doc = draw(rest)
        doc["model"]["layers"] = draw(st.lists(layer, min_size=1, max_size=5))
        return doc

    return spec()


@SETTINGS
@given(doc=_schema_specs())
def test_specs_from_the_schema_never_crash(doc, tmp):
    _check(doc, tmp)


# Mutations: replace one value anywhere in an example spec by something hostile.
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "\x00", "\ud800", "softmax", "time", "batch", "same", "valid", "../x"]),
    st.lists(st.one_of(st.none(), st.integers(-3, 5), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _replace(doc, path, new):
    if not path:
        return new
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = new
    return doc


@SETTINGS
@given(data=st.data())
def test_mutated_example_specs_never_crash(data, tmp):
    spec = data.draw(st.sampled_from(EXAMPLES), label="spec")
    doc = tomllib.loads(spec.read_text())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = list(_paths(doc))
        path = data.draw(st.sampled_from(paths), label="path")
        if path and data.draw(st.booleans(), label="delete") and isinstance(doc, dict):
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
            del parent[path[-1]]
        else:
            doc = _replace(doc, path, data.draw(HOSTILE, label="value"))
    _check(doc, tmp)


def test_known_crashers_are_located_errors(tmp):
    sys.set_int_max_str_digits(0)
    try:
        base = tomllib.loads((ROOT / "specs" / "digits_cnn.toml").read_text())
        cases = [
            '{"name": "n", "seed": ' + "9" * 5000 + "}",
            json.dumps({**base, "model": {**base["model"], "layers": [{"type": "max_pool2d", "pool_size": [None]}]}}),
            json.dumps({**base, "name": "\ud800"}),
        ]
    finally:
        sys.set_int_max_str_digits(4300)
    for text in cases:
        _check(None, tmp, text)
