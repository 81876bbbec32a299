"""The one way netspec opens a file a user named, and the one way it writes a file.

Reading: only regular files (a FIFO would block forever, /dev/zero would never end, a folder is
not a file); a symlink loop is reported as such; the size is checked against a cap *before* any
byte is read, and the cap is in the message. The file is opened non-blocking and checked again
through its descriptor, so a path swapped for a FIFO between the checks cannot hang the process.

Writing: the bytes go to a temp file in the same folder, are fsynced, renamed over the target,
and the folder is fsynced so the rename survives a power cut. A failed write removes its temp
file and names the path the user gave (never the temp file); temp files left by a killed
process are removed by the next write into that folder. Ctrl-C and SIGTERM are held back for
the few milliseconds of a one-piece write, and whatever interrupts a write, its temp file is
found by name (target, pid) and removed, even when the stop landed inside mkstemp itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import NetspecError

MiB = 1 << 20
GiB = 1 << 30
# Caps on what one read may hold in memory (bytes). Generous for real files, far below what
# would get the process killed on a laptop.
SPEC_LIMIT = 64 * MiB
CHECKPOINT_LIMIT = 8 * GiB
ONNX_LIMIT = 2 * GiB  # protobuf's own limit for one message
DATA_LIMIT = 8 * GiB
JSON_LIMIT = 64 * MiB  # run-folder sidecars, result.json

TMP_MARK = ".netspec-tmp-"


class FileError(NetspecError):
    """A path the user gave cannot be read or written; the message starts with that path."""


Error = Callable[[str], Exception]


def _default_error(path: Path | str) -> Error:
    return lambda message: FileError(f"{path}: {message}")


def size_text(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop (the link points back to itself); fix or remove the link"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of the path is not a folder)"
    return exc.strerror or str(exc)


def _check_stat(st: os.stat_result, limit: int, what: str, fail: Error) -> None:
    kind = _kind(st.st_mode)
    if kind is not None:
        raise fail(f"is {kind}, not a regular file; give the path of a {what}")
    if st.st_size > limit:
        raise fail(
            f"is {size_text(st.st_size)}, more than the {size_text(limit)} a {what} may have "
            "(is this the right file?)"
        )


def check_regular(path: Path | str, *, limit: int, what: str = "file", error: Error | None = None) -> int:
    """Refuse anything but a regular file of at most `limit` bytes; return its size."""
    fail = error or _default_error(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise fail(_os_reason(exc)) from None
    except ValueError:  # embedded NUL in the path
        raise fail("not a valid path") from None
    _check_stat(st, limit, what, fail)
    return st.st_size


def read_bytes(path: Path | str, *, limit: int, what: str = "file", error: Error | None = None) -> bytes:
    """All bytes of a regular file of at most `limit` bytes (see the module docstring)."""
    fail = error or _default_error(path)
    check_regular(path, limit=limit, what=what, error=fail)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise fail(_os_reason(exc)) from None
    try:
        st = os.fstat(fd)
        _check_stat(st, limit, what, fail)  # the file we opened, not the one we stat'ed
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 16 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise fail(f"cannot read: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # grew while we read it
        raise fail(f"is more than the {size_text(limit)} a {what} may have")
    return data


def read_text(path: Path | str, *, limit: int, what: str = "file", error: Error | None = None) -> str:
    """A regular UTF-8 file (a byte-order mark dropped); bad bytes are located by line and column."""
    fail = error or _default_error(path)
    raw = read_bytes(path, limit=limit, what=what, error=fail)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(undecodable_message(raw, exc)) from None


def undecodable_message(raw: bytes, exc: UnicodeDecodeError) -> str:
    """'line L, column C: byte 0xNN is not UTF-8 (...)' for the first bad byte."""
    line, col = undecodable_position(raw, exc)
    return f"line {line}, column {col}: {undecodable_reason(raw, exc)}"


def undecodable_position(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """1-based line and column (in characters) of the first byte that is not UTF-8."""
    line = raw.count(b"\n", 0, exc.start) + 1
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    return line, len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1


def undecodable_reason(raw: bytes, exc: UnicodeDecodeError) -> str:
    hint = "save the file as UTF-8"
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "the file is UTF-16; save it as UTF-8"
    elif b"\x00" in raw[:1024]:
        hint = "this looks like a binary file, not text"
    return f"byte 0x{raw[exc.start]:02x} is not UTF-8 ({hint})"


# -- writing -----------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temps(folder: Path) -> None:
    """Temp files of netspec writers that are no longer running (killed mid-write)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if TMP_MARK not in name:
            continue
        pid_text = name.split(TMP_MARK, 1)[1].split(".", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            try:
                os.unlink(folder / name)
            except OSError:
                pass


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT/SIGTERM until the block ends (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_write(path: Path | str, data: bytes, *, error: Error | None = None, exclusive: bool = False) -> None:
    """Write `data` to `path` atomically (see the module docstring). With `exclusive`, the
    complete file appears only if `path` did not exist (FileExistsError otherwise): how two
    processes agree on who owns a run folder. Ctrl-C and SIGTERM wait for the write to end."""
    with _signals_held(), atomic_stream(path, error=error, exclusive=exclusive) as f:
        f.write(data)


@contextmanager
def atomic_stream(path: Path | str, *, error: Error | None = None, exclusive: bool = False) -> Iterator:
    """atomic_write for output made in pieces (predictions of a large input): yields a binary
    file; `path` appears, whole, only when the block ends without an error (with `exclusive`,
    only if it did not exist). Whatever stops the block, this process' temp file is removed."""
    path, folder, fail = _target(path, error)
    try:
        fd, tmp = _make_temp(path, folder, fail)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            _link_exclusive(tmp, path)
        else:
            os.replace(tmp, path)
    except FileExistsError:
        _remove_own_temps(path, folder)
        raise
    except OSError as exc:
        _remove_own_temps(path, folder)
        raise fail(_os_reason(exc)) from None
    except BaseException:
        _remove_own_temps(path, folder)
        raise
    fsync_folder(folder)


def _target(path: Path | str, error: Error | None):
    """(path, its folder, the error to raise) for a write, after checking the folder is there."""
    path = Path(path)
    fail = error or (lambda message: FileError(f"{path}: cannot write: {message}"))
    folder = path.parent
    if path.is_dir():
        raise fail("is a folder")
    if not folder.is_dir():
        raise fail(f"No such file or folder {folder} (create the folder first)" if not folder.exists() else f"{folder} is not a folder")
    remove_stale_temps(folder)
    return path, folder, fail


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:80]}{TMP_MARK}{os.getpid()}."


def _make_temp(path: Path, folder: Path, fail) -> tuple[int, str]:
    """A temp file beside `path` (named so remove_stale_temps finds it), with the usual mode."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
    except OSError as exc:
        raise fail(_os_reason(exc)) from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; keep the usual permissions
    return fd, tmp


def _remove_own_temps(path: Path, folder: Path) -> None:
    """Remove this process' temp files for `path`, found by name: an exception (Ctrl-C) may land
    anywhere, even inside mkstemp after the file exists but before its name is returned."""
    prefix = _temp_prefix(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefix):
                Path(entry.path).unlink(missing_ok=True)


def _link_exclusive(tmp: str, path: Path) -> None:
    """A hard link fails if `path` exists, and shows the whole file at once."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:  # no hard links on this file system: an exclusive create instead
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        data = Path(tmp).read_bytes()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
    os.unlink(tmp)


def refuse_overwrite(path: Path, force: bool, option: str, protected=(), run_dir: Path | None = None) -> None:
    """A command writes to a path the user named: never over a file of the run it reads
    (`protected`, even with --force), and over any other existing file only with --force."""
    path = Path(path)
    target = _resolved(path)
    if any(target == _resolved(p) for p in protected):
        where = f" {run_dir}" if run_dir is not None else ""
        raise FileError(
            f"{path}: is a file of the run{where} that this command reads; choose another {option}"
        )
    if path.is_dir():
        raise FileError(f"{path}: is a folder; {option} takes a file path")
    if (path.exists() or path.is_symlink()) and not force:
        raise FileError(f"{path}: already exists; pass --force to overwrite it, or choose another {option}")


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return Path(os.path.abspath(path))
