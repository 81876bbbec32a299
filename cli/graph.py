"""`netspec graph SPEC`: the compiled graph with shapes, as Mermaid, Graphviz dot or text."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from netspec.compiler import compile_spec
from netspec.ir.printer import to_dict, to_dot, to_mermaid, to_text
from netspec.spec import load_spec

from .common import JsonOption, emit_json, handle_errors


class Format(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    text = "text"


RENDERERS = {Format.mermaid: to_mermaid, Format.dot: to_dot, Format.text: to_text}


@handle_errors
def graph(
    spec: Annotated[
        Path,
        typer.Argument(help="The spec file (.toml or .json).", metavar="SPEC", show_default=False),
    ],
    fmt: Annotated[
        Format,
        typer.Option(
            "--format", "-f", help="mermaid (for Markdown), dot (Graphviz) or text (the IR)."
        ),
    ] = Format.mermaid,
    json_output: JsonOption = False,
) -> None:
    """Print the compiled graph: one box per IR node (name, op, output shape), edges by tensor.

    Mermaid renders in GitHub Markdown (put it in a ```mermaid block); dot renders with Graphviz
    (`netspec graph model.toml -f dot | dot -Tsvg > model.svg`). With --json, stdout holds one
    JSON object: format, text (the rendering) and graph (nodes with ops, inputs, attributes,
    shapes and parameters).
    """
    compiled = compile_spec(load_spec(spec))
    text = RENDERERS[fmt](compiled.graph)
    if json_output:
        emit_json({"format": fmt.value, "text": text, "graph": to_dict(compiled.graph)})
    else:
        sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)
