"""The inspection commands: netspec check / summary / schema / graph (no data touched)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netspec_cli.main import app
from netspec_cli.schema import schema_text
from typer.testing import CliRunner

from netspec.compiler import compile_spec
from netspec.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = sorted(SPECS.glob("*.toml")) + sorted(SPECS.glob("*.json"))
SCHEMA = SPECS / "schema" / "netspec.schema.json"

runner = CliRunner()

BAD_SPEC = """\
name = "bad"

[model]
input_shape = [64]

[[model.layers]]
type = "dense"
units = 3.0

[[model.layers]]
type = "dense"
unitz = 10

[train]
epochs = 5
loss = "cross_entropy"
"""


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def bad_spec(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(BAD_SPEC)
    return path


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    for want in ("digits_mlp.toml", "iris_mlp.toml", "iris_mlp.json", "breast_cancer.toml",
                 "digits_cnn.toml", "sunspots_lstm.toml", "digits_residual.toml"):  # fmt: skip
        assert want in names


def test_json_spec_equivalent_to_toml():
    a = load_spec(SPECS / "iris_mlp.toml").model_dump()
    b = load_spec(SPECS / "iris_mlp.json").model_dump()
    assert a == b


# ------------------------------------------------------------------------------------- check


def test_check_all_examples_ok_and_fast():
    start = time.perf_counter()
    result = invoke("check", *EXAMPLES)
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for path in EXAMPLES:
        assert f"ok: {path} (" in result.stderr
    assert elapsed < 1.0, f"netspec check took {elapsed:.2f} s"


def test_check_ok_line_has_param_count():
    result = invoke("check", SPECS / "digits_mlp.toml")
    assert result.exit_code == 0
    assert "(17,226 params)" in result.stderr


def test_check_invalid_reports_every_error_located(bad_spec: Path):
    result = invoke("check", bad_spec)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = [ln for ln in result.stderr.splitlines() if "error[" in ln]
    assert len(lines) >= 2, result.stderr  # both layers' errors, in one pass
    assert lines[0].startswith(f"{bad_spec}:8:")
    assert "error[type]" in lines[0] and "model.layers[0].units" in lines[0]
    unknown = [ln for ln in lines if "error[unknown-key]" in ln]
    assert len(unknown) == 1 and unknown[0].startswith(f"{bad_spec}:12:")
    assert "model.layers[1].unitz" in unknown[0] and "`units`" in unknown[0]
    assert "Traceback" not in result.output


def test_check_mixed_valid_and_invalid(bad_spec: Path):
    result = invoke("check", SPECS / "iris_mlp.toml", bad_spec)
    assert result.exit_code == 1
    assert "ok: " in result.stderr and "error[" in result.stderr


def test_check_json_output_shape(bad_spec: Path):
    result = invoke("check", "--json", SPECS / "iris_mlp.toml", bad_spec)
    assert result.exit_code == 1
    errors = json.loads(result.stdout)  # stdout holds exactly one JSON document
    assert isinstance(errors, list)
    assert len(errors) == result.stderr.count("error[") >= 2
    for err in errors:
        assert set(err) == {"code", "message", "file", "line", "col", "path"}
        assert err["file"] == str(bad_spec)
        assert isinstance(err["line"], int) and err["line"] >= 1 and err["col"] >= 1
    assert errors[0]["code"] == "type" and errors[0]["path"] == "model.layers[0].units"
    assert errors[0]["line"] == 8
    assert any(e["code"] == "unknown-key" and e["path"] == "model.layers[1].unitz" for e in errors)


def test_check_json_valid_is_empty_list():
    result = invoke("check", "--json", *EXAMPLES)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_check_missing_file_and_wrong_extension(tmp_path: Path):
    result = invoke("check", tmp_path / "nope.toml", tmp_path / "spec.yaml")
    assert result.exit_code == 1
    assert "error[file]" in result.stderr and "no such file" in result.stderr
    assert ".toml or .json" in result.stderr


def test_check_expect_mismatch(tmp_path: Path):
    text = (SPECS / "iris_mlp.toml").read_text().replace("params = 131", "params = 130")
    spec = tmp_path / "iris.toml"
    spec.write_text(text)
    result = invoke("check", spec)
    assert result.exit_code == 1
    assert "error[expect]" in result.stderr and "131" in result.stderr


def test_usage_errors_exit_2():
    assert invoke("check").exit_code == 2
    assert invoke("summary", SPECS / "digits_mlp.toml", "--batch", "0").exit_code == 2
    assert invoke("graph", SPECS / "digits_mlp.toml", "--format", "png").exit_code == 2
    assert invoke("summary", SPECS / "digits_mlp.toml", "--dim", "time").exit_code == 2
    assert invoke("no-such-command").exit_code == 2


def test_help_texts():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("check", "summary", "graph", "schema"):
        assert command in result.stdout
        sub = invoke(command, "--help")
        assert sub.exit_code == 0 and "--json" in sub.stdout


def test_check_subprocess(bad_spec: Path):
    exe = shutil.which("netspec")
    cmd = [exe] if exe else [sys.executable, "-c", "from netspec_cli.main import main; main()"]
    ok = subprocess.run(
        [*cmd, "check", str(SPECS / "digits_mlp.toml")], check=False, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "" and "ok: " in ok.stderr
    bad = subprocess.run(
        [*cmd, "check", "--json", str(bad_spec)], check=False, capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert len(json.loads(bad.stdout)) == bad.stderr.count("error[") >= 2
    assert "Traceback" not in bad.stderr


# ----------------------------------------------------------------------------------- errors


def test_internal_error_is_exit_4_without_traceback(monkeypatch):
    import netspec_cli.summary as summary_mod

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(summary_mod, "compile_spec", boom)
    monkeypatch.delenv("NETSPEC_DEBUG", raising=False)
    result = invoke("summary", SPECS / "digits_mlp.toml")
    assert result.exit_code == 4
    assert "internal error" in result.stderr and "please report" in result.stderr
    assert "Traceback" not in result.output
    monkeypatch.setenv("NETSPEC_DEBUG", "1")
    result = invoke("summary", SPECS / "digits_mlp.toml")
    assert isinstance(result.exception, RuntimeError)


def test_spec_error_in_summary_and_graph(bad_spec: Path):
    for args in (("summary", bad_spec), ("graph", bad_spec)):
        result = invoke(*args)
        assert result.exit_code == 1 and "error[" in result.stderr and result.stdout == ""
    result = invoke("summary", "--json", bad_spec)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and len(doc["errors"]) == result.stderr.count("error[") >= 2


# ----------------------------------------------------------------------------------- summary


def test_summary_json_digits_mlp():
    result = invoke("summary", SPECS / "digits_mlp.toml", "--json", "--batch", "32")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total_params"] == 17_226
    assert data["trainable_params"] == 17_226
    assert data["frozen_params"] == 0
    # dense 2*64*128+128, relu 128, dropout 128, dense 2*128*64+64, relu 64, dense 2*64*10+10,
    # softmax 10
    assert data["flops"] == 16_512 + 128 + 128 + 16_448 + 64 + 1_290 + 10
    assert data["batch"] == 32
    layers = data["layers"]
    assert [ly["name"] for ly in layers] == ["hidden1", "dropout_1", "hidden2", "output"]
    assert [ly["type"] for ly in layers] == ["dense", "dropout", "dense", "dense"]
    assert [ly["params"] for ly in layers] == [8_320, 0, 8_256, 650]
    assert [ly["flops"] for ly in layers] == [16_640, 128, 16_512, 1_300]
    assert layers[-1]["output_shape"] == ["batch", 10]
    # activations: 128+128 (hidden1.pre, hidden1) + 128 + 64+64 + 10+10 floats per sample
    assert data["activation_bytes"] == (128 * 3 + 64 * 2 + 10 * 2) * 32 * 4
    assert data["train_bytes"] == 4 * 17_226 * 4 + 2 * data["activation_bytes"]


def test_summary_default_batch_is_train_batch_size():
    data = json.loads(invoke("summary", "--json", SPECS / "sunspots_lstm.toml").stdout)
    assert data["batch"] == 16
    assert [ly["type"] for ly in data["layers"]] == ["lstm", "dense"]


def test_summary_table_and_symbolic_dims(tmp_path: Path):
    result = invoke("summary", SPECS / "digits_cnn.toml")
    assert result.exit_code == 0
    for word in ("conv1", "conv2d", "(batch, 32, 8, 8)", "53,002", "704,404", "memory"):
        assert word in result.stdout
    spec = tmp_path / "seq.toml"
    spec.write_text(
        (SPECS / "sunspots_lstm.toml")
        .read_text()
        .replace("input_shape = [20, 1]", 'input_shape = ["time", 1]')
    )
    data = json.loads(invoke("summary", "--json", spec).stdout)
    assert data["symbolic_dims"] == ["time"]
    one = data["flops"]
    data = json.loads(invoke("summary", "--json", spec, "--dim", "time=20").stdout)
    assert data["flops"] > one
    assert (
        data["flops"]
        == json.loads(invoke("summary", "--json", SPECS / "sunspots_lstm.toml").stdout)["flops"]
    )
    result = invoke("summary", spec)
    assert "--dim time=N" in result.stdout


def test_summary_prints_layer_names_verbatim(tmp_path: Path):
    text = (
        (SPECS / "iris_mlp.toml").read_text().replace('name = "hidden"', 'name = "[bold]h[/bold]"')
    )
    spec = tmp_path / "markup.toml"
    spec.write_text(text)
    result = invoke("summary", spec)
    assert result.exit_code == 0, result.output
    assert "[bold]h[/bold]" in result.stdout  # user text, never Rich markup


# ------------------------------------------------------------------------------------ schema


def test_schema_committed_in_sync():
    committed = SCHEMA.read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "the committed schema is out of date: run "
        "`netspec schema --output specs/schema/netspec.schema.json`"
    )


def test_schema_command(tmp_path: Path):
    result = invoke("schema")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["$schema"].endswith("2020-12/schema")
    assert {"name", "model", "train"} <= set(doc["properties"])
    out = tmp_path / "schema.json"
    result = invoke("schema", "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text(encoding="utf-8") == schema_text()


# ------------------------------------------------------------------------------------- graph


@pytest.mark.parametrize("spec", ["digits_residual.toml", "digits_cnn.toml", "sunspots_lstm.toml"])
@pytest.mark.parametrize("fmt", ["mermaid", "dot", "text"])
def test_graph_contains_every_node(spec: str, fmt: str):
    graph = compile_spec(load_spec(SPECS / spec)).graph
    result = invoke("graph", SPECS / spec, "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for node in graph.nodes:
        assert node.name in out and node.op in out
    edges = sum(len(n.inputs) for n in graph.nodes)
    if fmt == "mermaid":
        assert out.startswith("flowchart")
        assert out.count("-->") == edges
    elif fmt == "dot":
        assert out.startswith("digraph") and out.rstrip().endswith("}")
        assert out.count("->") == edges
        for node in graph.nodes:
            assert f'"{node.name}" [label=' in out
    else:
        assert len(out.strip().splitlines()) == len(graph.nodes) + 2


def test_graph_residual_edges():
    out = invoke("graph", SPECS / "digits_residual.toml", "-f", "dot").stdout
    assert '"stem" -> "residual";' in out and '"block_b" -> "residual";' in out
    assert "(batch, 64)" in out


def test_graph_json():
    result = invoke("graph", SPECS / "digits_residual.toml", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "mermaid" and doc["text"].startswith("flowchart")
    nodes = {n["name"]: n for n in doc["graph"]["nodes"]}
    assert nodes["residual"]["inputs"] == ["stem", "block_b"]
    assert nodes["block_norm"]["params"]["running_mean"]["kind"] == "state"
    assert doc["graph"]["output"] == "output"


# ----------------------------------------------------------------------------- import hygiene


def test_library_import_is_light():
    code = (
        "import sys, netspec, netspec.spec, netspec.compiler, netspec.ir.printer\n"
        "bad = [m for m in ('onnx', 'onnxruntime', 'rich', 'typer', 'torch', 'numba') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_library_never_imports_cli_frameworks():
    for path in (ROOT / "netspec").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for mod in ("typer", "rich", "click"):
            assert f"import {mod}" not in text and f"from {mod}" not in text, (
                f"{path} imports {mod}"
            )
