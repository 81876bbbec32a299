"""The `netspec` command: the Typer app, its entry point and command registration.

Adding a command: write `cli/<name>.py` with a `register(app)` function that calls
`app.command(...)(fn)` (decorate `fn` with `common.handle_errors`), then add its module name to
COMMAND_MODULES below: one line.
"""

from __future__ import annotations

import signal
import sys
from importlib import import_module
from typing import Annotated

import typer

import netspec

from .common import (
    EXIT_INTERRUPTED,
    debug_enabled,
    handle_errors,
    report_error,
    report_internal,
    say,
)

__all__ = ["app", "handle_errors", "main", "report_error"]

# Listed in the order `netspec --help` shows them.
COMMAND_MODULES = (
    "check",
    "summary",
    "graph",
    "schema",
    "train",
    "evaluate",
    "predict",
    "export",
    "plot",
    "sweep",
)

app = typer.Typer(
    name="netspec",
    help="Declarative neural networks: a TOML/JSON spec in, a trained, exported model out.",
    epilog="Exit codes: 0 ok, 1 invalid spec/data, 2 usage, 3 training diverged, 4 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netspec {netspec.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Declarative neural networks: a TOML/JSON spec in, a trained, exported model out."""


def register_all(target: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        import_module(f"{__package__}.{name}").register(target)


register_all(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Commands handle their own errors (common.handle_errors); this is
    the last line of defence for anything raised outside a command."""
    from netspec.errors import NetspecError

    args = sys.argv[1:] if argv is None else argv
    if hasattr(signal, "SIGPIPE"):  # a closed output pipe ends the process quietly (exit 141)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        app(args=argv, prog_name="netspec")
    except SystemExit as exc:
        if exc.code == 2 and "--json" in args:  # Typer's usage error: stdout still gets its one document
            from .common import emit_json

            emit_json({"ok": False, "errors": [{"code": "usage", "message": "invalid command line (details on stderr; see --help)",
                                                "file": "", "line": 0, "col": 0, "path": ""}]})  # fmt: skip
        raise
    except NetspecError as exc:
        sys.exit(report_error(exc))
    except KeyboardInterrupt:
        say("interrupted")
        if "--json" in args:  # outside a command (while parsing): still one document
            from .common import emit_json

            emit_json({"ok": False, "errors": [{"code": "interrupted", "message": "interrupted",
                                                "file": "", "line": 0, "col": 0, "path": ""}]})  # fmt: skip
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if debug_enabled():
            raise
        sys.exit(report_internal(exc))


if __name__ == "__main__":
    main()
