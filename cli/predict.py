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


def predict_table(model_path: Path, input_path: Path) -> tuple[list[str], list[list], "object"]:
    """(header, rows, outputs array) for a run folder or an .onnx file. Outputs with a time axis
    (many-to-many sequence models) give one row per real step, with `example` and `step`."""
    import numpy as np

    import netspec

    if model_path.suffix == ".onnx":
        from netspec.export.serve import OnnxModel

        model = OnnxModel(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        outputs = np.asarray(model.predict(ds.x, ds.lengths))
        class_names, task, loss = model.class_names, model.task, model.loss
    else:
        model = netspec.load_run(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        outputs = model.predict(ds.x, ds.lengths, raw=False)
        class_names, task, loss = model.class_names, model.task, model.spec.train.loss
    keys: list[list] = [[]] * len(outputs)
    flat = outputs
    prefix: list[str] = []
    if getattr(ds, "names", None) is not None and outputs.ndim < 3:  # image files: say which
        keys, prefix = [[n] for n in ds.names], ["file"]
    if outputs.ndim >= 3:
        steps = outputs.shape[1]
        real = np.ones(outputs.shape[:2], bool) if ds.lengths is None else np.arange(steps)[None, :] < ds.lengths[:, None]
        ex, st = np.nonzero(real)
        keys = [[int(e), int(t)] for e, t in zip(ex, st)]
        flat = outputs[real]
        prefix = ["example", "step"]
    flat = flat.reshape(len(flat), -1)
    if task != "classification":
        targets = model.spec.data.target_columns if model.spec.data is not None else []
        names = targets if len(targets) == flat.shape[1] > 1 else [str(i) for i in range(flat.shape[1])]
        header = prefix + (["prediction"] if flat.shape[1] == 1 else [f"prediction_{n}" for n in names])
        return header, [k + [float(f"{v:.7g}") for v in row] for k, row in zip(keys, flat)], outputs
    from netspec.training.metrics import predicted_labels, task_kind

    names = class_names or [str(i) for i in range(max(flat.shape[-1], 2))]
    if loss == "binary_cross_entropy" and flat.shape[1] > 1:  # multi-label: every label > 0.5
        header = prefix + ["prediction", *[f"p_{n}" for n in names]]
        rows = [k + [";".join(n for n, p in zip(names, row) if p > 0.5), *[float(f"{p:.7g}") for p in row]]
                for k, row in zip(keys, flat)]  # fmt: skip
        return header, rows, outputs
    labels = predicted_labels(flat, task_kind(loss)).reshape(len(flat))
    probs = np.concatenate([1 - flat, flat], axis=-1) if loss == "binary_cross_entropy" else flat
    header = prefix + ["prediction", *[f"p_{n}" for n in names]]
    rows = [k + [names[int(c)], *[float(f"{p:.7g}") for p in row]] for k, c, row in zip(keys, labels, probs)]
    return header, rows, outputs


@handle_errors
def predict(
    run: Annotated[Path, typer.Argument(help="A run folder, a spec (its latest run), or an exported .onnx file.", show_default=False)],
    input: Annotated[Path, typer.Option("--input", "-i", help="Inputs: .csv (feature or text columns), .npz, .npy, or an image file or folder.", show_default=False)],  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write .csv (labels + probabilities) or .npy (raw outputs); default: CSV on stdout.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Predict with a trained model; classification gives class names and probabilities."""
    import numpy as np

    header, rows, outputs = predict_table(run, input)
    if output is not None and output.suffix == ".npy":
        np.save(output, outputs, allow_pickle=False)
    elif output is not None:
        with open(output, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    if json_output:
        emit_json({"columns": header, "rows": rows})
    elif output is None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        sys.stdout.write(buf.getvalue())
    if output is not None:
        say(f"wrote {len(rows)} predictions to {output}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


__all__ = ["predict_table"]
