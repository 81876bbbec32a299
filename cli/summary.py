"""`netspec summary SPEC`: a per-layer table (name, type, output shape, params, FLOPs), totals
and a memory estimate, from the compiled graph alone (no data touched)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netspec.compiler import Compiled, compile_spec
from netspec.compiler.cost import human_bytes
from netspec.inspect.receptive import layer_fields
from netspec.ir.graph import format_shape
from netspec.spec import load_spec

from .common import JsonOption, emit_json, handle_errors, stdout_console


def summarize(compiled: Compiled) -> dict:
    """The summary as a JSON-ready dict: one entry per spec layer (its IR nodes grouped, the
    output shape being that of the layer's last node), totals and the memory estimate."""
    spec, graph, cost = compiled.spec, compiled.graph, compiled.cost
    fields = layer_fields(graph)
    groups: dict[str, list] = {}
    for node in graph.nodes:
        groups.setdefault(node.layer, []).append(node)
    layers = []
    for name, nodes in groups.items():
        index = nodes[0].path[2] if len(nodes[0].path) > 2 else None
        ltype = spec.model.layers[index].type if index is not None else nodes[0].op
        layers.append(
            {
                "name": name,
                "type": ltype,
                "output_shape": list(nodes[-1].shape),
                "params": cost.layer_params.get(name, 0),
                "flops": cost.layer_flops.get(name, 0),
                **fields.get(name, {}),
            }
        )
    return {
        "name": spec.name,
        "input_shape": list(graph.input_shape),
        "layers": layers,
        "total_params": cost.params,
        "trainable_params": cost.trainable,
        "frozen_params": cost.frozen,
        "state_values": cost.state,
        "flops": cost.flops,
        "batch": cost.batch,
        "activation_bytes": cost.activation_bytes,
        "train_bytes": cost.train_bytes,
        "optimizer_slots": cost.optimizer_slots,
        "symbolic_dims": list(cost.symbolic),
    }


def _parse_dims(values: list[str] | None) -> dict[str, int]:
    dims: dict[str, int] = {}
    for item in values or []:
        name, sep, size = item.partition("=")
        if not sep or not name.strip() or not size.strip().isdigit() or int(size) < 1:
            raise typer.BadParameter(
                f"expected NAME=SIZE with SIZE >= 1, got {item!r}", param_hint="--dim"
            )
        dims[name.strip()] = int(size)
    return dims


def _cross(sizes: list[int] | None) -> str:
    return "x".join(map(str, sizes)) if sizes else ""


def render(data: dict, dims: dict[str, int]) -> None:
    from rich.table import Table

    console = stdout_console(markup=False)  # layer names are user text, not Rich markup
    table = Table(title=f"{data['name']}", title_justify="left")
    table.add_column("name")
    table.add_column("type")
    table.add_column("output shape")
    table.add_column("params", justify="right")
    table.add_column("FLOPs", justify="right")
    windows = any("receptive_field" in layer for layer in data["layers"])
    if windows:  # conv/pool layers: how much of the input one output sees, and its stride there
        table.add_column("RF", justify="right")
        table.add_column("jump", justify="right")
    extra = ["", ""] if windows else []
    table.add_row("input", "input", format_shape(tuple(data["input_shape"])), "0", "0", *extra, style="dim")
    for layer in data["layers"]:
        table.add_row(
            layer["name"],
            layer["type"],
            format_shape(tuple(layer["output_shape"])),
            f"{layer['params']:,}",
            f"{layer['flops']:,}",
            *([_cross(layer.get("receptive_field")), _cross(layer.get("jump"))] if windows else []),
        )
    table.add_section()
    table.add_row("total", "", "", f"{data['total_params']:,}", f"{data['flops']:,}", *extra, style="bold")
    console.print(table)
    console.print(
        f"params: {data['total_params']:,} (trainable {data['trainable_params']:,}, "
        f"frozen {data['frozen_params']:,})"
        + (
            f"; plus {data['state_values']:,} running-statistics values"
            if data["state_values"]
            else ""
        )
    )
    console.print(f"FLOPs per sample (forward): {data['flops']:,}")
    console.print(
        f"memory at batch {data['batch']}: activations {human_bytes(data['activation_bytes'])}, "
        f"training about {human_bytes(data['train_bytes'])} "
        f"(values, gradients and {data['optimizer_slots']} optimizer slot(s) per parameter, "
        "activations twice)"
    )
    unset = [d for d in data["symbolic_dims"] if d not in dims]
    if unset:
        names = ", ".join(unset)
        console.print(
            f"symbolic dims ({names}) count as 1 in FLOPs and memory; set sizes with "
            f"--dim {unset[0]}=N"
        )


@handle_errors
def summary(
    spec: Annotated[
        Path,
        typer.Argument(help="The spec file (.toml or .json).", metavar="SPEC", show_default=False),
    ],
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch",
            min=1,
            help="Batch size for the memory estimate (default: the spec's train.batch_size).",
        ),
    ] = None,
    dim: Annotated[
        list[str] | None,
        typer.Option(
            "--dim",
            metavar="NAME=SIZE",
            help="Size of a symbolic dimension, e.g. time=100 (repeatable).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Per-layer table: name, type, output shape, params and FLOPs; totals and memory estimate.

    Symbolic dims keep their names in shapes; FLOPs and memory count them as 1 unless sized with
    --dim. Conv and pool layers also show their receptive field (RF: the input pixels one output
    sees) and jump (input pixels between neighbouring outputs). With --json, stdout holds one
    JSON object: layers (name, type, output_shape, params, flops, and receptive_field and jump
    per spatial axis for conv/pool layers), total_params, trainable_params, frozen_params, flops, batch, activation_bytes,
    train_bytes.
    """
    dims = _parse_dims(dim)
    loaded = load_spec(spec)
    compiled = compile_spec(loaded, batch=batch or loaded.train.batch_size, dims=dims)
    data = summarize(compiled)
    if json_output:
        emit_json(data)
    else:
        render(data, dims)


def register(app: typer.Typer) -> None:
    app.command("summary")(summary)
