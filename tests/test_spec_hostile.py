"""Hostile spec files get located errors (exit 1), never an internal error: bad encodings say
the line and column of the bad byte, control characters are named (not "unterminated string"),
integers no setting can hold and lone surrogates are refused where they stand, and a very deep
spec is checked in linear time."""

from __future__ import annotations

import gc
import json
import os
import time

import pytest

from hardening_helpers import IRIS, run

BASE = json.loads((IRIS.parent / "iris_mlp.json").read_text())


def _check(path, *extra):
    res = run("check", path, *extra)
    assert res.exit_code == 1, (res.exit_code, res.stderr)
    return res


@pytest.mark.parametrize("raw, where, says", [
    (b'name = "caf\xe9"\n', ":1:12:", "byte 0xe9 is not UTF-8"),
    (b'name = "a"\n\n  x = "\xff"\n', ":3:8:", "byte 0xff"),
    ("name = 'ok'\n".encode("utf-16"), ":1:1:", "UTF-16"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\xc3\x28", ":1:11:", "binary"),
])
def test_undecodable_spec_locates_the_byte(raw, where, says, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_bytes(raw)
    res = _check(spec)
    assert f"s.toml{where} error[encoding]" in res.stderr and says in res.stderr


@pytest.mark.parametrize("name, text, where", [
    ("s.toml", 'name = "a\x00b"\n', ":1:10:"),
    ("s.json", '{"name": "a\x00b"}', ":1:12:"),
    ("s.toml", 'name = "a"\n# \x01\n', ":2:3:"),
])
def test_control_character_is_named_not_unterminated(name, text, where, tmp_path):
    spec = tmp_path / name
    spec.write_text(text)
    res = _check(spec)
    assert where in res.stderr and "control character" in res.stderr
    assert "unterminated" not in res.stderr


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_integer_with_thousands_of_digits(fmt, tmp_path):
    spec = tmp_path / f"s.{fmt}"
    source = (IRIS if fmt == "toml" else IRIS.parent / "iris_mlp.json").read_text()
    spec.write_text(source.replace("16", "9" * 5000, 1))
    res = _check(spec, "--json")
    assert "5000 digits" in res.stderr
    (doc,) = json.loads(res.stdout)
    assert doc["line"] >= 1 and doc["col"] >= 1


@pytest.mark.parametrize("where, value", [
    (("model", "layers", 0, "units"), 10**4000),
    (("seed",), 2**64),
    (("train", "batch_size"), -(2**70)),
])
def test_integers_beyond_64_bits_are_located(where, value, tmp_path):
    import sys

    doc = json.loads(json.dumps(BASE))
    target = doc
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        text = json.dumps(doc)
    finally:
        sys.set_int_max_str_digits(old)
    spec = tmp_path / "s.json"
    spec.write_text(text)
    res = _check(spec, "--json")
    (err,) = json.loads(res.stdout)
    assert "too large" in err["message"] and err["line"] == 1 and err["col"] > 1


@pytest.mark.parametrize("key", ["name", "description", "layer"])
def test_lone_surrogates_with_json_stay_one_utf8_document(key, tmp_path):
    doc = json.loads(json.dumps(BASE))
    if key == "layer":
        doc["model"]["layers"][0]["name"] = "h\ud800"
    else:
        doc[key] = "\udcff"
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(doc))  # ASCII: the surrogate is a \\u escape
    res = run("check", spec, "--json")
    assert res.exit_code == 1
    res.stdout_bytes.decode("utf-8")  # strict: valid UTF-8
    (err,) = json.loads(res.stdout)
    assert "surrogate" in err["message"] and err["path"] in ("name", "description", "model.layers[0].name")


def test_pool_size_null_in_json(tmp_path):
    doc = json.loads((IRIS.parent / "iris_mlp.json").read_text())
    doc["model"]["input_shape"] = [8, 8, 1]
    doc["model"]["layers"].insert(0, {"type": "max_pool2d", "pool_size": [None]})
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(doc))
    res = _check(spec)
    assert "pool_size: expected a whole number or a list of whole numbers, got `null`" in res.stderr


def test_non_utf8_file_name_with_json(tmp_path):
    if os.name == "nt":
        pytest.skip("POSIX file names")
    name = os.fsdecode(b"caf\xe9.toml")  # a surrogate escape in the str
    path = tmp_path / name
    path.write_text('name = "x"\n')
    res = run("check", path, "--json")
    assert res.exit_code == 1
    res.stdout_bytes.decode("utf-8")
    assert json.loads(res.stdout)


def _deep_spec(tmp_path, n: int):
    lines = ['name = "deep"', "[model]", "input_shape = [4]"]
    lines += ['[[model.layers]]\ntype = "dense"\nunits = 4'] * n
    lines += ['[[model.layers]]\ntype = "dense"\nunits = 3\nactivation = "softmax"',
              '[train]\nepochs = 1\nloss = "cross_entropy"']  # fmt: skip
    spec = tmp_path / f"deep{n}.toml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_check_of_a_deep_spec_is_linear(tmp_path):
    specs = {n: _deep_spec(tmp_path, n) for n in (1000, 8000)}
    runs: dict[int, list[float]] = {n: [] for n in specs}
    # the best of 5, the two sizes alternating so that both see the same load, without the
    # cyclic GC (a gen-2 collection's cost grows with all live objects); run one size after
    # the other, a busy machine once read 11.4x
    for _ in range(5):
        for n, spec in specs.items():
            gc.collect()
            gc.disable()
            try:
                t = time.process_time()
                assert run("check", spec).exit_code == 0
                runs[n].append(time.process_time() - t)
            finally:
                gc.enable()
    times = {n: min(r) for n, r in runs.items()}
    # 8x the layers: linear costs ~6-8x here; the old linear Graph.node lookup made it ~16x
    assert times[8000] < 12 * max(times[1000], 0.02), times


def test_graph_node_lookup_is_constant_time():
    from netspec.ir.graph import Graph, Node

    def graph(n):
        nodes = [Node(f"n{i}", "relu", [f"n{i - 1}" if i else "input"], {}, (1, 4), f"n{i}") for i in range(n)]
        return Graph("g", (1, 4), "float32", nodes, f"n{n - 1}", "mse")

    times = {}
    for n in (2000, 32000):
        g = graph(n)
        t = time.process_time()
        for node in g.nodes:
            assert g.node(node.name) is node
        times[n] = time.process_time() - t
    assert times[32000] < 40 * max(times[2000], 0.002), times  # quadratic would be 256x
    g.nodes.insert(0, Node("new", "relu", ["input"], {}, (1, 4), "new"))  # an edited graph: the index follows
    assert g.node("new").name == "new" and g.node("n5").name == "n5"
