"""safe_io: every user-named file is read only if it is a regular file under a size cap (a
FIFO, device, folder or symlink loop is refused at once, naming the path), and every write is
atomic, cleans up after itself and names the user's path when it fails."""

from __future__ import annotations

import errno
import os
import time

import pytest

from hardening_helpers import IRIS_CSV, copy_run, fifo, iris_spec_copy, loop, run, train_iris
from netspec import safe_io
from netspec.safe_io import FileError

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = train_iris(tmp_path_factory.mktemp("safeio") / "run")
    res = run("export", folder, "-o", folder.parent / "iris.onnx")
    assert res.exit_code == 0, res.stderr
    return folder


def _fast(*args):
    start = time.monotonic()
    res = run(*args)
    assert time.monotonic() - start < 20, "blocked on a non-regular file"
    return res


def test_read_refuses_fifo_folder_device_and_loop(tmp_path):
    with pytest.raises(FileError, match="FIFO"):
        safe_io.read_bytes(fifo(tmp_path / "f"), limit=100)
    with pytest.raises(FileError, match="folder"):
        safe_io.read_bytes(tmp_path, limit=100)
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", tmp_path / "zero")
        with pytest.raises(FileError, match="device"):
            safe_io.read_bytes(tmp_path / "zero", limit=100)
    with pytest.raises(FileError, match="symlink loop"):
        safe_io.read_bytes(loop(tmp_path / "l"), limit=100)
    with pytest.raises(FileError, match="no such file"):
        safe_io.read_bytes(tmp_path / "missing", limit=100)


def test_read_cap_is_checked_before_reading_and_named(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(FileError, match=r"2 KiB, more than the 1 KiB"):
        safe_io.read_bytes(big, limit=1024)
    assert safe_io.read_bytes(big, limit=4096) == b"x" * 2048


@pytest.mark.parametrize("kind", ["spec", "data", "checkpoint", "init_from", "model", "input"])
def test_every_user_file_refuses_a_fifo(kind, tmp_path, iris_run):
    f = fifo(tmp_path / {"spec": "s.toml", "data": "d.csv", "input": "i.csv", "model": "m.onnx"}.get(kind, "w.safetensors"))
    if kind == "spec":
        res = _fast("check", f)
    elif kind == "data":
        res = _fast("train", iris_spec_copy(tmp_path, **{IRIS_CSV.as_posix(): f.as_posix()}), "--out", tmp_path / "r")
    elif kind == "checkpoint":
        run_dir = copy_run(iris_run, tmp_path / "run")
        (run_dir / "model.safetensors").unlink()
        f = fifo(run_dir / "model.safetensors")
        res = _fast("predict", run_dir, "--input", IRIS_CSV)
    elif kind == "init_from":
        spec = iris_spec_copy(tmp_path)
        spec.write_text(spec.read_text().replace("[train]", f'[train]\ninit_from = "{f.as_posix()}"'))
        res = _fast("train", spec, "--out", tmp_path / "r")
    elif kind == "model":
        res = _fast("predict", f, "--input", IRIS_CSV)
    else:
        res = _fast("predict", iris_run, "--input", f)
    assert res.exit_code == 1, (res.exit_code, res.stderr)
    assert "FIFO" in res.stderr and f.name in res.stderr


def test_symlink_loop_is_not_file_not_found(tmp_path, iris_run):
    res = run("check", loop(tmp_path / "s.toml"))
    assert res.exit_code == 1 and "symlink loop" in res.stderr
    res = run("predict", iris_run, "--input", loop(tmp_path / "i.csv"))
    assert res.exit_code == 1 and "symlink loop" in res.stderr


def test_atomic_write_replaces_whole_and_fsyncs(tmp_path):
    target = tmp_path / "out.json"
    safe_io.atomic_write(target, b"one")
    safe_io.atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_failed_write_names_the_user_path_and_leaves_no_temp(tmp_path, monkeypatch):
    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(FileError) as info:
        safe_io.atomic_write(tmp_path / "model.onnx", b"x" * 1000)
    assert str(info.value).startswith(f"{tmp_path / 'model.onnx'}: cannot write: ")
    assert "No space left" in str(info.value) and safe_io.TMP_MARK not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_stale_temps_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    stale = tmp_path / f".last.safetensors{safe_io.TMP_MARK}{dead}.abc"
    stale.write_bytes(b"x" * 100)
    live = tmp_path / f".other{safe_io.TMP_MARK}{os.getpid()}.abc"  # a write in progress here
    live.write_bytes(b"y")
    safe_io.atomic_write(tmp_path / "metrics.csv", b"a\n")
    assert not stale.exists() and live.exists()


def test_write_over_a_folder_or_into_a_missing_root_names_the_path(tmp_path):
    with pytest.raises(FileError, match="is a folder"):
        safe_io.atomic_write(tmp_path, b"x")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileError, match=str(tmp_path / "file" / "x")):
        safe_io.atomic_write(tmp_path / "file" / "x", b"x")
