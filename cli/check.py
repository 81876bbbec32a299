"""`netspec check SPEC...`: parse, validate and compile specs; report every located error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netspec.compiler import compile_spec
from netspec.errors import SpecError
from netspec.spec import load_spec

from .common import JsonOption, emit_json, handle_errors, say


def check_one(path: Path) -> tuple[int | None, list]:
    """(parameter count, []) for a valid spec, (None, diagnostics) for an invalid one."""
    try:
        compiled = compile_spec(load_spec(path))
    except SpecError as exc:
        return None, list(exc.diagnostics)
    return compiled.cost.params, []


@handle_errors
def check(
    specs: Annotated[
        list[Path],
        typer.Argument(
            help="Spec files (.toml or .json) to check.", metavar="SPEC", show_default=False
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Parse, validate and compile specs, without touching any data.

    Every problem is printed on stderr as FILE:LINE:COL: error[CODE]: MESSAGE, all of them in one
    pass; a valid spec prints "ok: FILE (N params)". Exit code 0 when every spec is valid, 1
    otherwise. With --json, stdout holds one JSON list of the errors (code, message, file, line,
    col, path), empty when all specs are valid.
    """
    errors: list = []
    invalid = 0
    for path in specs:
        params, diags = check_one(path)
        if params is None:
            invalid += 1
        else:
            say(f"ok: {path} ({params:,} params)")
        for d in diags:
            say(d.render())
        errors.extend(diags)
    if json_output:
        emit_json([d.to_json() for d in errors])
    if invalid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
