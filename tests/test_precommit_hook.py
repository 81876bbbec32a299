"""The shipped pre-commit hook (.pre-commit-hooks.yaml) runs `netspec check` on the spec files
its pattern selects: the example specs pass, a broken spec fails the commit with its location."""

from __future__ import annotations

import re
import shlex

import pytest

from hardening_helpers import ROOT, run

yaml = pytest.importorskip("yaml")


def _hook():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return hook


def test_hook_runs_netspec_check_on_the_example_specs():
    hook = _hook()
    assert hook["id"] == "netspec-check" and hook["language"] == "python"
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["netspec", "check"]
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "specs").rglob("*"))
    picked = [f for f in files if re.search(hook["files"], f)]
    assert picked and all(f.startswith("specs/") and f.endswith((".toml", ".json")) for f in picked)
    assert not any("schema" in f for f in picked)
    res = run(*argv[1:], *[ROOT / f for f in picked])
    assert res.exit_code == 0, res.stderr


def test_hook_fails_on_a_broken_spec(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[model]\ninput_shape = [4]\n')
    res = run(*shlex.split(_hook()["entry"])[1:], bad)
    assert res.exit_code == 1 and "bad.toml:" in res.stderr
