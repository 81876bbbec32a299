"""`netspec train SPEC`: fit a model with a live progress bar; writes a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, stderr_console


class ProgressView:
    """Renders training events: a Rich progress bar (epoch, batch, live loss, time left) and one
    line per epoch with the metrics."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console, transient=True,
        )  # fmt: skip
        self.overall = None
        self.batch_task = None
        self.decode_task = None
        self.load_task = None

    def __call__(self, ev) -> None:
        p = self.progress
        if ev.kind == "load":  # reading a large data file: bytes (CSV) or rows checked (arrays)
            d = ev.data
            if self.load_task is None:
                p.start()
                self.load_task = p.add_task(f"reading data ({d['unit']})", total=d["total"], info="")
            p.update(self.load_task, completed=d["done"], total=d["total"])
            return
        if ev.kind == "start" and self.load_task is not None:
            p.remove_task(self.load_task)
            self.load_task = None
        if ev.kind == "start":
            d = ev.data
            resumed = f", resumed after epoch {d['resumed_from']}" if d["resumed_from"] else ""
            self.console.print(
                f"training {d['params']:,} params on {d['train']} examples "
                f"(val {d['val']}, test {d['test']}) -> {d['run_dir']}{resumed}"
            )
            p.start()
            self.overall = p.add_task("epochs", total=d["epochs"], completed=d["resumed_from"], info="")
        elif ev.kind == "note":
            self.console.print(f"[yellow]note[/]: {ev.data['message']}", soft_wrap=True)
        elif ev.kind == "decode":  # image files decoded before training starts
            if self.decode_task is None:
                p.start()
                self.decode_task = p.add_task(f"decoding {ev.data['what']}", total=ev.batches, info="")
            p.update(self.decode_task, completed=ev.batch)
            if ev.batch >= ev.batches:
                p.remove_task(self.decode_task)
        elif ev.kind == "init_from":
            d = ev.data
            self.console.print(f"init_from {d['source']}: loaded {len(d['loaded'])} ({', '.join(d['loaded']) or '-'})")
            if d["initialized"]:
                self.console.print(f"  freshly initialized: {', '.join(d['initialized'])}")
            for m in d["mismatched"]:
                self.console.print(f"  [yellow]shape mismatch, not loaded[/]: {m}")
        elif ev.kind == "epoch_start":
            if self.batch_task is not None:
                p.remove_task(self.batch_task)
            self.batch_task = p.add_task(f"epoch {ev.epoch}", total=ev.batches, info="")
        elif ev.kind == "batch":
            p.update(self.batch_task, completed=ev.batch, info=f"loss {ev.data['loss']:.4f}")
        elif ev.kind == "epoch_end":
            row = ev.data
            parts = [f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "lr", "seconds")]
            self.console.print(f"epoch {ev.epoch:>3}  " + "  ".join(parts) + f"  ({row['seconds']:.2f}s)", soft_wrap=True)
            live = "  ".join(f"{k} {row[k]:.4f}" for k in ("loss", "val_loss") if k in row)
            p.update(self.overall, completed=ev.epoch, info=live)
        elif ev.kind == "warning":  # e.g. vanishing or overflowing gradients (each said once)
            from rich.markup import escape

            self.console.print(f"[yellow]warning[/]: {escape(ev.data['message'])}", soft_wrap=True)
        elif ev.kind == "early_stop":
            self.console.print(f"early stopping at epoch {ev.epoch} (best epoch {ev.data['best_epoch']})")
        elif ev.kind == "restore_best":
            self.console.print(f"restored the weights of epoch {ev.data['best_epoch']}")
        elif ev.kind == "done":
            p.stop()

    def stop(self):
        self.progress.stop()


def metrics_table(metrics: dict):
    from rich.table import Table

    names = sorted({k for m in metrics.values() for k in m}, key=lambda k: (k != "loss", k))
    table = Table(title="final metrics")
    table.add_column("split")
    for n in names:
        table.add_column(n, justify="right")
    for split, m in metrics.items():
        table.add_row(split, *[f"{m[n]:.4f}" if n in m else "" for n in names])
    return table


@handle_errors
def train(
    spec: Annotated[Path, typer.Argument(help="The spec file (.toml or .json).", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default: `runs/<name>`, or `runs/<name>-N` if taken).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Override train.epochs.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Override the spec's seed.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the latest (or --out) run from its last checkpoint.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Train a model from a spec and write a run folder (spec, metrics.csv, checkpoints, result)."""
    import netspec

    console = stderr_console()
    view = ProgressView(console)
    try:
        result = netspec.train(spec, out=out, epochs=epochs, seed=seed, resume=resume, callback=view)
    finally:
        view.stop()
    console.print(metrics_table(result.metrics))
    console.print(f"run folder: {result.run_dir}")
    if json_output:
        emit_json({"ok": True, "run_dir": str(result.run_dir), "metrics": result.metrics,
                   "epochs_run": len(result.history), "best_epoch": result.best_epoch,
                   "stopped_early": result.stopped_early, "load_seconds": round(result.load_seconds, 3),
                   "epoch_seconds": round(sum(r["seconds"] for r in result.history), 3),
                   "eval_seconds": round(result.eval_seconds, 3), "peak_rss_mb": round(result.peak_rss_mb, 1)})  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("train")(train)
