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
    params, diags, _ = _check(path)
    return params, diags


def _check(path: Path) -> tuple[int | None, list, str | None]:
    try:
        spec = load_spec(path)
        compiled = compile_spec(spec)
    except SpecError as exc:
        return None, list(exc.diagnostics), None
    from netspec.data.prepare import target_scale_note

    return compiled.cost.params, [], target_scale_note(spec, Path(path).parent)


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
    """Parse, validate and compile specs. Data is read only for one hint: a regression spec
    with unscaled targets (and a data file under 20 MB) gets a note when the targets' scale is
    far from what an output layer starts at.

    Every problem is printed on stderr as FILE:LINE:COL: error[CODE]: MESSAGE, all of them in one
    pass; a valid spec prints "ok: FILE (N params)". Exit code 0 when every spec is valid, 1
    otherwise. With --json, stdout holds one JSON list of the errors (code, message, file, line,
    col, path), empty when all specs are valid.
    """
    errors: list = []
    invalid = 0
    for path in specs:
        params, diags, note = _check(path)
        if params is None:
            invalid += 1
        else:
            say(f"ok: {path} ({params:,} params)")
        if note:
            say(f"note: {path}: {note}")
        for d in diags:
            say(d.render())
        errors.extend(diags)
    if json_output:
        emit_json([d.to_json() for d in errors])
    if invalid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
