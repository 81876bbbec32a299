"""Golden corpus of malformed specs: each must fail with exactly the located errors it declares.

Expectations live with the spec. A TOML file carries them in comment lines (a JSON file, which
has no comments, in a sidecar `<name>.json.expect` holding the same lines without the `#`):

    # expect: LINE:COL error[CODE] KEY.PATH     one per diagnostic; the path may be omitted
    # message: TEXT                              must appear in the rendered output

The set of (line, col, code, key path) reported must equal the declared set exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from netspec.compiler import compile_spec
from netspec.errors import SpecError
from netspec.spec import load_spec

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad_specs"
GOOD = HERE / "good_specs"
CODES = {
    "syntax", "file", "missing-key", "unknown-key", "unknown-type", "type", "value",
    "duplicate-name", "unknown-input", "cycle", "unused-layer", "shape", "loss-output",
    "expect", "too-large",
}  # fmt: skip
_EXPECT = re.compile(r"^(\d+):(\d+) error\[([a-z-]+)\](?: (\S+))?$")
# Pydantic's own wording or locations must never reach a user.
_LEAKS = (
    "Input should",
    "function-before",
    "function-after",
    "literal[",
    "[type=",
    "pydantic",
    "Value error,",
)


def bad_cases() -> list[Path]:
    return sorted(p for p in BAD.iterdir() if p.suffix in (".toml", ".json"))


def good_cases() -> list[Path]:
    return sorted(p for p in GOOD.iterdir() if p.suffix in (".toml", ".json"))


def expectations(spec: Path) -> tuple[list[tuple[int, int, str, str]], list[str]]:
    source = spec.with_name(spec.name + ".expect") if spec.suffix == ".json" else spec
    expected, messages = [], []
    for raw in source.read_text(encoding="utf-8-sig").splitlines():
        line = raw.strip()
        if spec.suffix == ".toml" and not line.startswith("#"):
            continue
        line = line.lstrip("#").strip()
        if line.startswith("expect:"):
            m = _EXPECT.match(line[len("expect:") :].strip())
            assert m, f"{source.name}: malformed expectation {raw!r}"
            expected.append((int(m[1]), int(m[2]), m[3], m[4] or ""))
        elif line.startswith("message:"):
            messages.append(line[len("message:") :].strip())
    return expected, messages


def diagnose(spec: Path) -> SpecError:
    try:
        compile_spec(load_spec(spec))
    except SpecError as exc:
        return exc
    pytest.fail(f"{spec.name} compiled without errors")


@pytest.mark.parametrize("spec", bad_cases(), ids=lambda p: p.name)
def test_bad_spec_reports_exactly_its_errors(spec: Path) -> None:
    expected, messages = expectations(spec)
    assert expected, f"{spec.name} declares no expected errors"
    exc = diagnose(spec)
    got = [(d.line, d.col, d.code, d.key_path) for d in exc.diagnostics]
    assert sorted(got) == sorted(expected), "\n" + str(exc)
    rendered = str(exc)
    for text in messages:
        assert text in rendered, f"{text!r} not in:\n{rendered}"


@pytest.mark.parametrize("spec", bad_cases(), ids=lambda p: p.name)
def test_bad_spec_renders_one_line_per_diagnostic(spec: Path) -> None:
    exc = diagnose(spec)
    diags = exc.diagnostics
    assert diags
    assert [(d.line, d.col) for d in diags] == sorted((d.line, d.col) for d in diags), (
        "not in line order"
    )
    lines = str(exc).split("\n")
    assert len(lines) == len(diags)
    for d, line in zip(diags, lines, strict=True):
        assert d.code in CODES
        assert d.line >= 1 and d.col >= 1
        assert d.file == str(spec)
        assert line == d.render()
        assert line.startswith(f"{spec}:{d.line}:{d.col}: error[{d.code}]: ")
        assert "\n" not in d.message and d.message.strip()
        if d.path:
            assert line.split(": ", 3)[2] == d.key_path  # FILE:L:C: error[..]: PATH: message
        assert not any(leak in line for leak in _LEAKS), line
        json.dumps(d.to_json())


def test_corpus_size_and_coverage() -> None:
    cases = bad_cases()
    assert len(cases) >= 60
    assert any(p.suffix == ".json" for p in cases) and any(p.suffix == ".toml" for p in cases)
    codes = {code for p in cases for _, _, code, _ in expectations(p)[0]}
    assert codes == CODES - {"file"}, CODES - {"file"} - codes
    for p in cases:
        if p.suffix == ".json":
            assert p.with_name(p.name + ".expect").exists(), p.name


def test_file_errors(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.toml", tmp_path / "spec.yaml"):
        with pytest.raises(SpecError) as info:
            load_spec(path)
        (d,) = info.value.diagnostics
        assert d.code == "file" and str(path) in d.render()


@pytest.mark.parametrize("spec", good_cases(), ids=lambda p: p.name)
def test_good_spec_compiles(spec: Path) -> None:
    compiled = compile_spec(load_spec(spec))
    assert compiled.graph.output_shape[0] == "batch"
