"""Run a sweep: check it, open (or join) its study, start N local worker processes and watch
the storage until they are done.

Trials are handed out as tickets from a shared counter, so local workers never run more than
the sweep's `trials` between them; workers on other machines sharing the storage also stop once
the storage holds that many finished and running trials. The BLAS threads of the machine's cores
are divided between the workers (two processes each running all-core OpenBLAS slow GEMMs many
times over).
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import wait
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import NetspecError
from .model import load_sweep
from .space import check_sweep
from .storage import (
    counts_as_done, default_storage, fail_dead_local_trials, open_storage, open_study, redact, release_connections,
    require_optuna,
)  # fmt: skip

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class TrialRow:
    number: int
    state: str  # RUNNING, COMPLETE, PRUNED, FAIL
    value: float | None
    params: dict
    epochs: int  # epochs run (so far, while running with a pruner)
    seconds: float | None
    run_dir: str | None
    host: str | None
    note: str = ""  # why it failed, or where it was pruned

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SweepOutcome:
    study: str
    storage: str  # password hidden
    metric: str
    direction: str
    budget: int
    workers: int
    blas_threads: int
    trials: list[TrialRow] = field(default_factory=list)
    marked_failed: list[int] = field(default_factory=list)  # trials a killed run had left RUNNING

    @property
    def best(self) -> TrialRow | None:
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        if not done:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(done, key=lambda t: (t.value, -t.number) if self.direction == "maximize" else (t.value, t.number))

    def to_json(self) -> dict:
        best = self.best
        return {"study": self.study, "storage": self.storage, "metric": self.metric, "direction": self.direction,
                "budget": self.budget, "workers": self.workers, "blas_threads": self.blas_threads,
                "marked_failed": self.marked_failed, "best": best.to_json() if best else None,
                "trials": [t.to_json() for t in self.trials]}  # fmt: skip


def blas_threads(workers: int) -> int:
    """BLAS threads per worker: the cores divided between the workers (never fewer than one),
    and no more than an OPENBLAS/OMP/MKL_NUM_THREADS limit already set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    per = max(1, cores // workers)
    for var in _BLAS_VARS:
        if os.environ.get(var, "").isdigit() and int(os.environ[var]) > 0:
            per = min(per, int(os.environ[var]))
    return per


def rows(study) -> list[TrialRow]:
    out = []
    for t in study.get_trials(deepcopy=False):
        a, w = t.user_attrs, t.user_attrs.get("worker", {})
        end = t.datetime_complete
        secs = (end - t.datetime_start).total_seconds() if end and t.datetime_start else None
        note = a.get("error", "") or a.get("fatal", "") or ("killed while running" if a.get("interrupted") else "")
        if a.get("over_budget"):
            note = "not run: the budget was used up by other workers"
        if t.state.name == "PRUNED":
            note = f"pruned after epoch {a.get('pruned_at', len(t.intermediate_values))}"
        value = t.value if t.state.name in ("COMPLETE", "PRUNED") else None
        epochs = a.get("result", {}).get("epochs_run", len(t.intermediate_values))
        out.append(TrialRow(t.number, t.state.name, value, dict(t.params), epochs, secs,
                            w.get("run_dir"), w.get("host"), note))  # fmt: skip
    return out


def enqueue_grid(study, plan, budget: int) -> None:
    """Queue the grid points no trial holds yet (a trial killed while running gives its point
    back). The storage hands each queued trial to exactly one worker, on any machine, so the grid
    is covered once, without duplicates."""
    import itertools

    names = list(plan.grid)
    held = set()
    for t in study.get_trials(deepcopy=False):
        if counts_as_done(t) or t.state.name in ("RUNNING", "WAITING"):
            params = t.system_attrs.get("fixed_params", {}) if t.state.name == "WAITING" else t.params
            held.add(tuple(params.get(n) for n in names))
    points = [p for p in itertools.product(*plan.grid.values()) if p not in held][: max(0, budget - len(held))]
    for point in points:
        study.enqueue_trial(dict(zip(names, point)))


def budget_of(plan) -> int:
    if plan.sweep.sampler == "grid":
        return min(plan.sweep.trials, int(np.prod([len(v) for v in plan.grid.values()])))
    return plan.sweep.trials


def run_sweep(path: str | Path, *, workers: int = 1, storage: str | None = None, study: str | None = None,
              trials: int | None = None, on_update: Callable[[list[TrialRow]], None] | None = None,
              poll: float = 1.0) -> SweepOutcome:  # fmt: skip
    """Run (or continue) the sweep in `path` with `workers` local processes; returns every trial
    of the study. `trials` overrides the file's budget. The library never prints: `on_update`
    receives the trial rows while it runs."""
    sweep = load_sweep(path)
    if trials is not None:
        sweep.trials = trials
    plan = check_sweep(sweep)
    name = study or sweep.study_name
    if not _NAME.match(name):
        raise NetspecError(f"--study {name!r}: a study name starts with a letter or digit and uses letters, digits, `_`, `.`, `-`")
    url = storage or default_storage(name)
    require_optuna()
    the_study = open_study(plan, open_storage(url), name)
    marked = fail_dead_local_trials(the_study)
    budget = budget_of(plan)
    if sweep.sampler == "grid":
        enqueue_grid(the_study, plan, budget)
    remaining = budget - sum(counts_as_done(t) for t in the_study.get_trials(deepcopy=False))
    threads = blas_threads(workers)
    outcome = SweepOutcome(name, redact(url), plan.metric, plan.direction, budget, workers, threads, marked_failed=marked)
    if remaining > 0:
        _run_workers(sweep.file, url, name, workers, threads, remaining, budget, the_study, on_update, poll, sweep)
    outcome.trials = rows(the_study)
    return outcome


def _run_workers(file, url, name, workers, threads, remaining, budget, the_study, on_update, poll, sweep) -> None:
    # Linux forks: the workers start at once with netspec and Optuna already imported (a fresh
    # interpreter spends seconds importing them). No thread runs yet in this process and its
    # database connections are closed first, so a child inherits none. Elsewhere: spawn.
    fork = sys.platform == "linux" and "fork" in mp.get_all_start_methods()
    ctx = mp.get_context("fork" if fork else "spawn")
    if fork:
        release_connections(the_study)
    tickets = ctx.Value("i", remaining)
    errors = ctx.Queue()
    deadline = time.time() + sweep.timeout if sweep.timeout else 0.0
    saved = {v: os.environ.get(v) for v in _BLAS_VARS}
    procs = []
    try:
        os.environ.update({v: str(threads) for v in _BLAS_VARS})  # read by the workers' BLAS at import
        for k in range(workers):
            args = (str(file), url, name, k, threads, budget, deadline, tickets, errors, str(Path.cwd()))
            p = ctx.Process(target=_worker_entry, args=args, name=f"netspec-sweep-{k}")
            p.start()
            procs.append(p)
    finally:
        for v, old in saved.items():
            os.environ.pop(v, None) if old is None else os.environ.__setitem__(v, old)
    failure, watched = None, False
    try:
        while any(p.is_alive() for p in procs):
            if on_update:
                on_update(rows(the_study))
            failure = failure or _first_error(errors)
            if failure:
                break
            wait([p.sentinel for p in procs], timeout=poll)  # wakes at once when a worker ends
        watched = True
    finally:
        for p in procs:
            if p.is_alive() and (failure is not None or not watched):  # an error, or Ctrl-C here
                p.terminate()  # the worker marks its running trial failed and exits
        for p in procs:
            p.join()
    failure = failure or _first_error(errors)
    if failure is None:
        bad = [p for p in procs if p.exitcode not in (0, None)]
        if bad:
            failure = f"sweep worker {bad[0].name} exited with code {bad[0].exitcode}"
    if on_update:
        on_update(rows(the_study))
    if failure:
        raise NetspecError(failure)


def _first_error(queue) -> str | None:
    try:
        return queue.get_nowait()
    except Exception:
        return None


def _worker_entry(file, url, name, index, threads, budget, deadline, tickets, errors, cwd) -> None:
    from .worker import work

    work(file, url, name, index, threads, budget, deadline, tickets, errors, cwd)
