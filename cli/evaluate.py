"""`netspec eval RUN_OR_SPEC`: loss and metrics on a split or a file; a confusion matrix for
classification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, stdout_console, stderr_console


def evaluate_run(run: Path, split: str, data: Path | None) -> dict:
    """What `netspec eval` prints, as a plain dict (also its --json document)."""
    import netspec
    from netspec.inspect.confusion import confusion_of

    model = netspec.load_run(run)
    ds = model.read(data, require_targets=True) if data is not None else model.split(split)
    result = {"run_dir": str(model.run_dir), "source": str(data) if data else split, "examples": len(ds.x),
              "metrics": model.evaluate(ds)}  # fmt: skip
    multi_label = model.spec.data is not None and len(model.spec.data.target_columns) > 1
    if model.task == "classification" and not multi_label:  # multi-label: per-label metrics instead
        names, cm = confusion_of(model, ds)
        result["class_names"] = names
        result["confusion_matrix"] = cm.tolist()
    return result


def _render(result: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"{result['source']}: {result['examples']} examples")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result["metrics"].items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)
    if "confusion_matrix" in result:
        cm = Table(title="confusion matrix (rows: true, columns: predicted)")
        cm.add_column("")
        for n in result["class_names"]:
            cm.add_column(n, justify="right")
        for n, row in zip(result["class_names"], result["confusion_matrix"]):
            cm.add_row(n, *[str(c) for c in row])
        console.print(cm)


@handle_errors
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder, or a spec (its latest run under runs/).", show_default=False)],
    split: Annotated[str, typer.Option("--split", help="Which split of the spec's data: train, val or test.")] = "test",
    data: Annotated[Path | None, typer.Option("--data", help="Evaluate on this CSV/NPZ file instead (with targets).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate a trained model: loss, metrics and (classification) a confusion matrix."""
    if split not in ("train", "val", "test"):
        raise typer.BadParameter("--split must be train, val or test")
    result = evaluate_run(run, split, data)
    if json_output:
        _render(result, stderr_console())
        emit_json(result)
    else:
        _render(result, stdout_console())


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
