"""`netspec sweep SWEEP`: a hyperparameter search over a spec (Optuna), with a live table of
trials; a thin layer over netspec.sweep.runner."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, stderr_console

_STYLE = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}


def trials_table(rows, metric: str, title: str, best: int | None = None):
    from rich.table import Table

    names = list(dict.fromkeys(k for r in rows for k in r.params))
    table = Table(title=title)
    for col in ("trial", "state", metric, *names, "epochs", "seconds"):
        table.add_column(col, justify="left" if col == "state" else "right")
    table.add_column("run folder / note")
    for r in rows:
        mark = " *" if r.number == best else ""
        value = "" if r.value is None else f"{r.value:.4f}"
        params = [_fmt(r.params.get(n)) for n in names]
        secs = "" if r.seconds is None else f"{r.seconds:.1f}"
        style = _STYLE.get(r.state, "default")
        table.add_row(f"{r.number}{mark}", f"[{style}]{r.state.lower()}[/]", value, *params, str(r.epochs), secs,
                      r.note if r.state == "FAIL" else (r.run_dir or ""))  # fmt: skip
    return table


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@handle_errors
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP", help="The sweep file (.toml or .json).", show_default=False)],
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Local worker processes (BLAS threads are divided between them).")] = 1,
    storage: Annotated[str | None, typer.Option("--storage", help="Study storage URL (default: sqlite:///runs/STUDY/study.db); e.g. postgresql://user@host/db to share one study between machines.")] = None,
    study: Annotated[str | None, typer.Option("--study", help="Study name (default: the sweep's name); trials go to runs/STUDY/trial-K.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Search a spec's hyperparameters: trials in runs/STUDY/trial-K; rerun the same command to continue."""
    from rich.live import Live

    from netspec.sweep.runner import run_sweep

    console = stderr_console()
    if not console.is_terminal:  # a log file gets the whole table, not 80 squeezed columns
        console.width = 200
    title = f"sweep {study or sweep_file.stem}"
    live = Live(console=console, refresh_per_second=4, transient=True)
    metric = "value"

    def update(rows) -> None:
        if not live.is_started:
            live.start()
        live.update(trials_table(rows, metric, title))

    # SIGTERM (a scheduler stopping the job) ends the sweep like Ctrl-C: workers mark their
    # running trials failed, and a rerun continues the study.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        outcome = run_sweep(sweep_file, workers=workers, storage=storage, study=study, on_update=update)
    finally:
        if live.is_started:
            live.stop()
    best = outcome.best
    console.print(trials_table(outcome.trials, outcome.metric, f"study {outcome.study} ({outcome.direction} {outcome.metric}) in {outcome.storage}",
                               best.number if best else None))  # fmt: skip
    if outcome.marked_failed:
        console.print(f"marked failed (left running by a killed sweep; folders kept): trials {', '.join(map(str, outcome.marked_failed))}")
    finished = sum(t.state in ("COMPLETE", "PRUNED") for t in outcome.trials)
    console.print(f"{finished} of {outcome.budget} trials finished; {outcome.workers} worker(s) x {outcome.blas_threads} BLAS thread(s)")
    if best is not None:
        console.print(f"best trial {best.number}: {outcome.metric} {best.value:.4f} -> run folder {best.run_dir}"
                      + (f" (on {best.host})" if best.host else ""))  # fmt: skip
    if json_output:
        emit_json({"ok": True, **outcome.to_json()})


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
