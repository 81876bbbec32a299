"""`netspec predict RUN --input FILE`: predictions from a run folder, or from an exported .onnx
model through onnxruntime (the serving path), in the same format."""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, say, stderr_console


@contextlib.contextmanager
def decode_progress():
    """A transient progress bar on stderr while image files are decoded."""
    from rich.progress import Progress

    console = stderr_console()
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = None

        def update(done: int, total: int, what: str) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(f"decoding {what}", total=total)
            bar.update(task, completed=done)

        yield update


def non_finite_warning(outputs, x) -> str | None:
    """Why some predictions are NaN or infinite (weights are checked finite on load, inputs on
    read): say which rows, and whether their inputs are far outside float32's safe range."""
    import numpy as np

    if not len(outputs) or np.isfinite(outputs).all():
        return None
    bad = ~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)
    rows = np.flatnonzero(bad)
    shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
    x = np.asarray(x, np.float64).reshape(len(x), -1) if len(x) == len(outputs) else None
    peak = float(np.abs(x[rows]).max()) if x is not None and x.size else None
    why = (f"their inputs reach |x| = {peak:.3g} (after standardization), so the network overflows float32"
           if peak is not None and peak > 1e4 else "the network overflows float32 on these inputs")
    return (f"warning: {len(rows)} of {len(outputs)} predictions are NaN or infinite (rows {shown}; 0-based): "
            f"{why}; check those rows of the input")


def predict_table(model_path: Path, input_path: Path) -> tuple[list[str], list[list], "object"]:
    """(header, rows, outputs array) for a run folder or an .onnx file. Outputs with a time axis
    (many-to-many sequence models) give one row per real step, with `example` and `step`."""
    return predict_rows(model_path, input_path)[:3]


def predict_rows(model_path: Path, input_path: Path):
    """predict_table's (header, rows, outputs) and a warning about non-finite outputs (or None)."""
    import numpy as np

    with np.errstate(all="ignore"):  # overflow is reported once, by non_finite_warning
        return _predict_rows(model_path, input_path)


def _predict_rows(model_path: Path, input_path: Path):
    import numpy as np

    import netspec
    from netspec.ir.graph import INPUT_TIME

    if model_path.suffix == ".onnx":
        from netspec.export.serve import OnnxModel

        model = OnnxModel(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        outputs = np.asarray(model.predict(ds.x, ds.lengths))
        class_names, task, loss = model.class_names, model.task, model.loss
        graph = netspec.compile(model.spec).graph
    else:
        model = netspec.load_run(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        outputs = model.predict(ds.x, ds.lengths, raw=False)
        class_names, task, loss = model.class_names, model.task, model.spec.train.loss
        graph = model.graph
    from netspec.training.checkpoint import check_class_names

    if task == "classification" and outputs.ndim >= 2:
        check_class_names(class_names, loss, outputs.shape[-1], str(model_path))
    warning = non_finite_warning(outputs, ds.x)
    keys: list[list] = [[]] * len(outputs)
    flat = outputs
    prefix: list[str] = []
    if getattr(ds, "names", None) is not None and outputs.ndim < 3:  # image files: say which
        keys, prefix = [[n] for n in ds.names], ["file"]
    if outputs.ndim >= 3:
        steps = outputs.shape[1]
        # steps of the input's time axis are real up to each length; a decoder's own time axis
        # up to the target lengths when the file has them, else every step is an output
        on_input = graph.time_axis_of(graph.output) == INPUT_TIME
        lens = ds.lengths if on_input else ds.target_lengths
        real = np.ones(outputs.shape[:2], bool) if lens is None else np.arange(steps)[None, :] < lens[:, None]
        ex, st = np.nonzero(real)
        keys = [[int(e), int(t)] for e, t in zip(ex, st)]
        flat = outputs[real]
        prefix = ["example", "step"]
    flat = flat.reshape(len(flat), -1)
    if task != "classification":
        targets = model.spec.data.target_columns if model.spec.data is not None else []
        names = targets if len(targets) == flat.shape[1] > 1 else [str(i) for i in range(flat.shape[1])]
        header = prefix + (["prediction"] if flat.shape[1] == 1 else [f"prediction_{n}" for n in names])
        return header, [k + [float(f"{v:.7g}") for v in row] for k, row in zip(keys, flat)], outputs, warning
    from netspec.training.metrics import predicted_labels, task_kind

    names = class_names or [str(i) for i in range(max(flat.shape[-1], 2))]
    if loss == "binary_cross_entropy" and flat.shape[1] > 1:  # multi-label: every label > 0.5
        header = prefix + ["prediction", *[f"p_{n}" for n in names]]
        rows = [k + [";".join(n for n, p in zip(names, row) if p > 0.5), *[float(f"{p:.7g}") for p in row]]
                for k, row in zip(keys, flat)]  # fmt: skip
        return header, rows, outputs, warning
    labels = predicted_labels(flat, task_kind(loss)).reshape(len(flat))
    probs = np.concatenate([1 - flat, flat], axis=-1) if loss == "binary_cross_entropy" else flat
    header = prefix + ["prediction", *[f"p_{n}" for n in names]]
    ok = np.isfinite(probs).all(axis=-1)  # no class for a NaN row (the warning says why)
    rows = [k + [names[int(c)] if good else "", *[float(f"{p:.7g}") for p in row]]
            for k, c, row, good in zip(keys, labels, probs, ok)]  # fmt: skip
    return header, rows, outputs, warning


@handle_errors
def predict(
    run: Annotated[Path, typer.Argument(help="A run folder, a spec (its latest run), or an exported .onnx file.", show_default=False)],
    input: Annotated[Path, typer.Option("--input", "-i", help="Inputs: .csv (feature or text columns), .npz, .npy, or an image file or folder.", show_default=False)],  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .csv (labels + probabilities) or .npy (raw outputs); default: CSV on stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Predict with a trained model; classification gives class names and probabilities."""
    import numpy as np

    from netspec.safe_io import atomic_write, refuse_overwrite
    from netspec.training.run_files import run_file_paths

    if output is not None:  # checked before any work: never over the model, its run or the input
        protected = [run, input] + ([] if run.suffix == ".onnx" else run_file_paths(run))
        refuse_overwrite(output, force, "--output", protected, None if run.suffix == ".onnx" else run)
    header, rows, outputs, warning = predict_rows(run, input)
    if output is not None and output.suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, outputs, allow_pickle=False)
        atomic_write(output, buf.getvalue())
    elif output is not None:
        text = io.StringIO()
        csv.writer(text).writerows([header, *rows])
        atomic_write(output, text.getvalue().encode("utf-8"))
    if warning:
        say(warning)
    if json_output:
        emit_json({"columns": header, "rows": rows, **({"warnings": [warning]} if warning else {})})
    elif output is None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        sys.stdout.write(buf.getvalue())
    if output is not None:
        say(f"wrote {len(rows)} predictions to {output}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


__all__ = ["predict_table"]
