"""`netspec export RUN`: an ONNX model, validated (checker + strict shape inference), with a
parity report against onnxruntime; a failed parity check exits 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, report_error, stderr_console


def _render(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"parity: netspec executor vs {report['runtime']}")
    for col in ("case", "max abs error", "max rel error", "within tolerance", "argmax agrees"):
        table.add_column(col)
    for case in report.get("cases", []):
        label = f"batch {case['batch']}, input {tuple(case['input_shape'])}"
        for out in case["outputs"].values():
            agrees = out.get("argmax_agrees")
            table.add_row(label, f"{out['max_abs']:.2e}", f"{out['max_rel']:.2e}", str(out["within_tolerance"]),
                          "-" if agrees is None else str(agrees))  # fmt: skip
        if case.get("error"):
            table.add_row(label, "error", case["error"], "False", "-")
    console.print(table)
    for failure in report.get("failures", []):
        console.print(f"[red]parity failure[/]: {failure}")


@handle_errors
def export(
    run: Annotated[Path, typer.Argument(help="A run folder, or a spec (its latest run).", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The .onnx file (default: `<run>/<spec name>.onnx`).")] = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset, 13 to 21.")] = 17,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Export a trained model to ONNX: standardization and class names embedded, dynamic batch,
    checked with onnx.checker and strict shape inference, then compared with the executor on
    onnxruntime at batch sizes 1 and 37."""
    import netspec
    from netspec.export.errors import ParityError
    from netspec.export.serve import export_run

    from netspec.safe_io import refuse_overwrite
    from netspec.training.run_files import run_file_paths

    model = netspec.load_run(run)
    if output is not None:
        refuse_overwrite(output, force, "--output", run_file_paths(model.run_dir), model.run_dir)
    path = output or (model.run_dir / f"{model.spec.name}.onnx")
    report = export_run(model, path, opset)
    console = stderr_console()
    _render(report, console)
    if not report["ok"]:
        error = ParityError(f"{path}: the exported model does not match the executor: " + "; ".join(report["failures"]))
        report_error(error)
        if json_output:  # one document: the report, marked failed
            emit_json({**report, "errors": [{"code": "parity", "message": str(error)}]})
        raise typer.Exit(error.exit_code)
    if json_output:
        emit_json(report)
    console.print(f"wrote {path} (opset {opset}, ir_version {report['ir_version']}); parity ok")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
