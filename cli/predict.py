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


# Examples per predict call: the input is read, predicted and written a chunk at a time, so
# memory holds one chunk's rows, whatever the size of a memory-mapped input.
CHUNK = 4096


def non_finite_warning(bad_rows, n: int, peak: float | None) -> str | None:
    """Why some predictions are NaN or infinite (weights are checked finite on load, inputs on
    read): say which rows, and whether their inputs are far outside float32's safe range."""
    if not len(bad_rows):
        return None
    shown = ", ".join(map(str, bad_rows[:5])) + (", ..." if len(bad_rows) > 5 else "")
    why = (f"their inputs reach |x| = {peak:.3g} (after standardization), so the network overflows float32"
           if peak is not None and peak > 1e4 else "the network overflows float32 on these inputs")
    return (f"warning: {len(bad_rows)} of {n} predictions are NaN or infinite (rows {shown}; 0-based): "
            f"{why}; check those rows of the input")


def predict_table(model_path: Path, input_path: Path) -> tuple[list[str], list[list], "object"]:
    """(header, rows, outputs array) for a run folder or an .onnx file. Outputs with a time axis
    (many-to-many sequence models) give one row per real step, with `example` and `step`."""
    return predict_rows(model_path, input_path)[:3]


def predict_rows(model_path: Path, input_path: Path):
    """predict_table's (header, rows, outputs) and a warning about non-finite outputs (or None),
    all in memory (for --json and the API); `prediction_chunks` is the streaming form."""
    import numpy as np

    header, rows, outputs = None, [], []
    chunks = prediction_chunks(model_path, input_path)
    for header, part_rows, part_out in chunks:
        rows += part_rows
        outputs.append(part_out)
    return header, rows, np.concatenate(outputs), chunks.warning


class prediction_chunks:
    """Iterates (header, rows, outputs) over the input a CHUNK of examples at a time; after the
    loop, `.warning` says why predictions were non-finite (or is None)."""

    def __init__(self, model_path: Path, input_path: Path):
        self.model_path, self.input_path = model_path, input_path
        self.warning = None
        self.examples = 0  # known once iteration starts

    def __iter__(self):
        import numpy as np

        from netspec.training.checkpoint import check_class_names

        with np.errstate(all="ignore"):  # overflow is reported once, by non_finite_warning
            model, ds, info = _open(self.model_path, self.input_path)
            bad: list[int] = []
            peak = None
            n = self.examples = len(ds)
            for a in range(0, max(n, 1), CHUNK):  # an empty input still gives its header
                part = ds.take(np.arange(a, min(a + CHUNK, n)))
                x = np.asarray(part.x[:]) if len(part) else np.asarray(part.x)
                outputs = model(x, part.lengths)
                if a == 0 and info["task"] == "classification" and outputs.ndim >= 2:
                    check_class_names(info["class_names"], info["loss"], outputs.shape[-1], str(self.model_path))
                header, rows = _rows(outputs, part, a, info)
                flat = outputs.reshape(len(outputs), -1)
                rows_bad = np.flatnonzero(~np.isfinite(flat).all(axis=1)) if len(flat) else []
                if len(rows_bad):
                    xs = np.abs(np.asarray(x, np.float64).reshape(len(x), -1)[rows_bad])
                    peak = max(peak or 0.0, float(xs.max()) if xs.size else 0.0)
                    bad += [a + int(r) for r in rows_bad]
                yield header, rows, outputs
            self.warning = non_finite_warning(bad, n, peak)


def _open(model_path: Path, input_path: Path):
    """(predict function on prepared inputs, the input Dataset, what formatting needs)."""
    import numpy as np

    import netspec

    if model_path.suffix == ".onnx":
        from netspec.export.serve import OnnxModel

        model = OnnxModel(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        predict = lambda x, lengths: np.asarray(model.predict(x, lengths))  # noqa: E731
        info = {"class_names": model.class_names, "task": model.task, "loss": model.loss,
                "graph": netspec.compile(model.spec).graph, "spec": model.spec}  # fmt: skip
    else:
        model = netspec.load_run(model_path)
        with decode_progress() as progress:
            ds = model.read(input_path, progress=progress)
        predict = lambda x, lengths: model.predict(x, lengths, raw=False)  # noqa: E731
        info = {"class_names": model.class_names, "task": model.task, "loss": model.spec.train.loss,
                "graph": model.graph, "spec": model.spec}  # fmt: skip
    return predict, ds, info


def _rows(outputs, ds, offset: int, info: dict):
    """(header, CSV rows) for one chunk's outputs; `offset` numbers its examples in the file."""
    import numpy as np

    from netspec.ir.graph import INPUT_TIME

    graph, task, loss = info["graph"], info["task"], info["loss"]
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
        keys = [[offset + int(e), int(t)] for e, t in zip(ex, st)]
        flat = outputs[real]
        prefix = ["example", "step"]
    flat = flat.reshape(len(flat), -1)
    if task != "classification":
        spec = info["spec"]
        targets = spec.data.target_columns if spec.data is not None else []
        names = targets if len(targets) == flat.shape[1] > 1 else [str(i) for i in range(flat.shape[1])]
        header = prefix + (["prediction"] if flat.shape[1] == 1 else [f"prediction_{n}" for n in names])
        return header, [k + [float(f"{v:.7g}") for v in row] for k, row in zip(keys, flat)]
    from netspec.training.metrics import predicted_labels, task_kind

    names = info["class_names"] or [str(i) for i in range(max(flat.shape[-1], 2))]
    if loss == "binary_cross_entropy" and flat.shape[1] > 1:  # multi-label: every label > 0.5
        header = prefix + ["prediction", *[f"p_{n}" for n in names]]
        rows = [k + [";".join(n for n, p in zip(names, row) if p > 0.5), *[float(f"{p:.7g}") for p in row]]
                for k, row in zip(keys, flat)]  # fmt: skip
        return header, rows
    labels = predicted_labels(flat, task_kind(loss)).reshape(len(flat))
    probs = np.concatenate([1 - flat, flat], axis=-1) if loss == "binary_cross_entropy" else flat
    header = prefix + ["prediction", *[f"p_{n}" for n in names]]
    ok = np.isfinite(probs).all(axis=-1)  # no class for a NaN row (the warning says why)
    rows = [k + [names[int(c)] if good else "", *[float(f"{p:.7g}") for p in row]]
            for k, c, row, good in zip(keys, labels, probs, ok)]  # fmt: skip
    return header, rows


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

    from netspec.safe_io import atomic_stream, refuse_overwrite
    from netspec.training.run_files import run_file_paths

    if output is not None:  # checked before any work: never over the model, its run or the input
        protected = [run, input] + ([] if run.suffix == ".onnx" else run_file_paths(run))
        refuse_overwrite(output, force, "--output", protected, None if run.suffix == ".onnx" else run)
    if json_output:  # one document: everything in memory
        header, rows, outputs, warning = predict_rows(run, input)
        pieces, examples = [(header, rows, outputs)], lambda: len(outputs)
    else:  # streamed: a chunk of examples is read, predicted and written at a time
        pieces = chunks = prediction_chunks(run, input)
        examples = lambda: chunks.examples  # noqa: E731
    count = None
    if output is not None:
        with atomic_stream(output) as f:
            if output.suffix == ".npy":
                count = _write_npy(pieces, f, examples)
            else:
                text = io.TextIOWrapper(f, encoding="utf-8", newline="")
                count = _write_csv(pieces, text)
                text.detach()  # the binary file is closed (and renamed) by atomic_stream
    elif not json_output:
        _write_csv(pieces, sys.stdout)
    warning = warning if json_output else chunks.warning
    if warning:
        say(warning)
    if json_output:
        emit_json({"columns": header, "rows": rows, **({"warnings": [warning]} if warning else {})})
    if output is not None:
        say(f"wrote {count} predictions to {output}")


def _write_csv(chunks, stream) -> int:
    """Header once, then each chunk's rows as it is predicted; the number of rows."""
    writer = csv.writer(stream, lineterminator="\n") if stream is sys.stdout else csv.writer(stream)
    count = 0
    for k, (header, rows, _) in enumerate(chunks):
        if k == 0:
            writer.writerow(header)
        writer.writerows(rows)
        count += len(rows)
        stream.flush()
    return count


def _write_npy(chunks, f, examples) -> int:
    """The raw outputs as one .npy, written a chunk at a time (the header holds the whole
    shape: the example count is known before the first chunk, from the input's length)."""
    import numpy as np

    count = 0
    for k, (_, rows, outputs) in enumerate(chunks):
        outputs = np.ascontiguousarray(outputs, dtype=np.float32)
        if k == 0:
            shape = (examples(), *outputs.shape[1:])
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.lib.format.dtype_to_descr(outputs.dtype), "fortran_order": False, "shape": shape})
        f.write(outputs.tobytes())
        count += len(rows)
    return count


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


__all__ = ["predict_table"]
