"""What every command shares: output streams, JSON output, and the error handler that turns
library errors into located messages and exit codes.

Streams: human output (progress, "ok" lines, diagnostics) goes to stderr; with `--json` the one
JSON document is the only thing written to stdout. Exit codes (also in the README):

    0  success
    1  invalid input: spec, data or checkpoint (a located, actionable message)
    2  command-line usage (Typer's own)
    3  training diverged (NaN/inf loss; the last good checkpoint is kept)
    4  internal error (a bug in netspec: a one-line "please report" message)
    130 interrupted (Ctrl-C or SIGTERM: a clean stop, the last epoch's checkpoint kept)
    141 the output pipe was closed by its reader

Set NETSPEC_DEBUG=1 to get the full traceback of an internal error instead.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from netspec.errors import CheckpointError, DataError, NetspecError, SpecError, TrainingDiverged

EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shell tools report it

# The `--json` option, shared so every command spells and documents it the same way.
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Write one JSON document to stdout (human output stays on stderr)."
    ),
]


def debug_enabled() -> bool:
    return os.environ.get("NETSPEC_DEBUG", "") not in ("", "0")


def say(message: str) -> None:
    """One line of human output on stderr (always valid UTF-8, whatever a name holds)."""
    typer.echo(printable(message), err=True)


_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """Lone surrogates (from a JSON "\\ud800" escape or a non-UTF-8 file name) cannot be encoded
    as UTF-8: show them as their escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def emit_json(document: Any) -> None:
    """The machine output of a command: one JSON document on stdout (strict JSON)."""
    # Lone surrogates can only sit inside JSON strings, where their \\uXXXX escape is valid JSON
    # (and the output stays valid UTF-8).
    text = printable(json.dumps(_finite(document), indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def stdout_console(**kwargs):
    """A Rich console on the current stdout (created per call so test runners' streams are used)."""
    from rich.console import Console

    return Console(file=sys.stdout, **_unwrapped_off_terminal(sys.stdout, kwargs))


def stderr_console(**kwargs):
    from rich.console import Console

    return Console(file=sys.stderr, **_unwrapped_off_terminal(sys.stderr, kwargs))


def _unwrapped_off_terminal(stream, kwargs: dict) -> dict:
    """Rich hard-wraps at 80 columns when the stream is not a terminal; a pipe or file gets whole
    lines instead (a long path must not split a message a script greps for)."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        kwargs = {"soft_wrap": True, **kwargs}
    return kwargs


def _error_code(exc: NetspecError) -> str:
    for cls, code in (
        (DataError, "data"),
        (CheckpointError, "checkpoint"),
        (TrainingDiverged, "diverged"),
    ):
        if isinstance(exc, cls):
            return code
    return "error"


def error_records(exc: NetspecError) -> list[dict]:
    """The error(s) as JSON objects with code, message, file, line, col, path."""
    if isinstance(exc, SpecError):
        return [d.to_json() for d in exc.diagnostics]
    return [
        {"code": _error_code(exc), "message": str(exc), "file": "", "line": 0, "col": 0, "path": ""}
    ]


def report_error(exc: NetspecError, as_json: bool = False) -> int:
    """Print a user error (stderr; and as JSON on stdout with --json); return its exit code."""
    if isinstance(exc, SpecError):
        for d in exc.diagnostics:
            say(d.render())
    else:
        say(f"error: {exc}")
    if as_json:
        emit_json({"ok": False, "errors": error_records(exc)})
    return exc.exit_code


def report_internal(exc: BaseException) -> int:
    detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    say(
        f"netspec: internal error ({detail}); this is a bug in netspec, please report it with the "
        "command and spec that caused it (rerun with NETSPEC_DEBUG=1 for the traceback)"
    )
    return EXIT_INTERNAL


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same clean stop as Ctrl-C (checkpoints are written atomically
    at epoch ends, so the run stays resumable)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def install_sigterm() -> None:
    import signal

    if hasattr(signal, "SIGTERM"):
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread (an embedding application): leave it alone
            pass


def handle_errors(command: Callable) -> Callable:
    """Decorate a command: NetspecError -> its message and exit code; Ctrl-C -> 130; anything
    unexpected -> a one-line internal-error report and exit 4 (a traceback only with
    NETSPEC_DEBUG=1). The command's `json_output` argument, if any, selects JSON error output."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("json_output"))
        install_sigterm()
        try:
            result = command(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
            return result
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer.Exit and usage errors keep their own exit codes
        except NetspecError as exc:
            raise typer.Exit(report_error(exc, as_json)) from None
        except KeyboardInterrupt as exc:
            what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            say(what)
            if as_json:
                emit_json({"ok": False, "errors": [{"code": "interrupted", "message": what,
                                                    "file": "", "line": 0, "col": 0, "path": ""}]})  # fmt: skip
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # the reader of our output went away (`netspec predict ... | head`)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except OSError as exc:  # a path the user gave cannot be read or written
            where = f"{exc.filename}: " if exc.filename else ""
            raise typer.Exit(report_error(NetspecError(f"{where}{exc.strerror or exc}"), as_json)) from None
        except Exception as exc:
            if debug_enabled():
                raise
            if as_json:
                emit_json({"ok": False, "errors": [{"code": "internal", "message": f"{type(exc).__name__}: {exc}",
                                                    "file": "", "line": 0, "col": 0, "path": ""}]})  # fmt: skip
            raise typer.Exit(report_internal(exc)) from None

    return wrapper
