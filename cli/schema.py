"""`netspec schema`: the JSON Schema of the spec language, for editors and CI.

The schema is generated from the Pydantic models (netspec.spec.Spec), so it cannot drift from
what `netspec check` accepts. A copy is committed as specs/schema/netspec.schema.json; a test
keeps it in sync (regenerate it with `netspec schema --output specs/schema/netspec.schema.json`).
It lives in a subfolder so that `netspec check specs/*.toml specs/*.json` sees only specs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netspec.safe_io import atomic_write
from netspec.spec import Spec

from .common import JsonOption, emit_json, handle_errors, say

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema_document() -> dict:
    return {"$schema": DRAFT, **Spec.model_json_schema()}


def schema_text() -> str:
    """The schema as committed in specs/schema/: 2-space indent, trailing newline."""
    return json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


@handle_errors
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the schema to this file instead of stdout.",
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print the JSON Schema of the spec language (JSON Schema draft 2020-12).

    Point an editor at it for completion and validation of spec files (the TOML ones too, e.g.
    with Taplo or Even Better TOML). The output is JSON either way; --json is accepted for
    uniformity with the other commands.
    """
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        say(f"error: cannot write {output}: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    say(f"wrote {output}")
    if json_output:
        emit_json({"ok": True, "path": str(output)})


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
