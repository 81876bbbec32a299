"""Shared by the hardening tests: a CLI runner, one small trained iris run per session, and
hostile files (FIFOs, symlink loops, device links)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from netspec_cli.main import app

ROOT = Path(__file__).resolve().parent.parent
IRIS = ROOT / "specs" / "iris_mlp.toml"
IRIS_CSV = ROOT / "datasets" / "iris.csv"

try:
    runner = CliRunner(mix_stderr=False)
except TypeError:  # click >= 8.2 keeps stderr apart already
    runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def train_iris(folder: Path, epochs: int = 2) -> Path:
    res = run("train", IRIS, "--out", folder, "--epochs", epochs)
    assert res.exit_code == 0, res.stderr
    return folder


def copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def loop(path: Path) -> Path:
    os.symlink(path.name, path)
    return path


def iris_spec_copy(folder: Path, **replace: str) -> Path:
    """iris_mlp.toml in `folder` with its data path made absolute (and text replacements)."""
    text = IRIS.read_text().replace('"../datasets/iris.csv"', f'"{IRIS_CSV.as_posix()}"')
    for old, new in replace.items():
        text = text.replace(old, new)
    spec = folder / "iris.toml"
    spec.write_text(text)
    return spec
