"""A sweep worker process: takes tickets from the shared counter and runs one trial per ticket
until the tickets, the storage's budget or the timeout run out, or the parent process is gone."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import numpy as np

from ..errors import NetspecError, TrainingDiverged


_stopping = False


def _to_interrupt(signum, frame):  # SIGTERM from the parent: Optuna marks the running trial failed
    global _stopping
    _stopping = True
    raise KeyboardInterrupt


def _take(tickets) -> bool:
    with tickets.get_lock():
        if tickets.value <= 0:
            return False
        tickets.value -= 1
        return True


def _storage_full(study, budget: int) -> bool:
    """Other machines share the study: stop once it holds `budget` finished and running trials."""
    from .storage import counts_as_done

    trials = study.get_trials(deepcopy=False)
    return sum(counts_as_done(t) or t.state.name == "RUNNING" for t in trials) >= budget


def work(file, url, name, index, threads, budget, deadline, tickets, errors, cwd) -> None:
    signal.signal(signal.SIGTERM, _to_interrupt)
    os.chdir(cwd)
    from threadpoolctl import threadpool_limits

    from .model import load_sweep
    from .objective import OverBudget, make_objective, make_pruner, make_sampler
    from .space import check_sweep
    from .storage import open_storage, require_optuna

    optuna = require_optuna()
    parent = mp.parent_process()
    try:
        with threadpool_limits(limits=threads):
            plan = check_sweep(load_sweep(file), compile_corners=False)
            storage = open_storage(url, prepared=True)
            existing = len(optuna.load_study(study_name=name, storage=storage).trials)
            # One worker on a fresh study draws from a fixed function of the sweep's seed (reproducible);
            # other workers, and runs that continue a study, draw their own streams.
            seed = int(np.random.SeedSequence([plan.sweep.seed, index, existing]).generate_state(1)[0])
            study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(plan, budget, seed),
                                      pruner=make_pruner(plan))  # fmt: skip
            objective = make_objective(plan, Path("runs") / name, name, budget)
            while parent is None or parent.is_alive():
                if deadline and time.time() >= deadline:
                    break
                if _storage_full(study, budget) or not _take(tickets):
                    break
                study.optimize(objective, n_trials=1, catch=(TrainingDiverged, OverBudget))
                if getattr(objective, "missed", False):
                    with tickets.get_lock():  # the grid point is still queued: take it next
                        tickets.value += 1
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except NetspecError as exc:
        errors.put(str(exc))
        raise SystemExit(1) from None
    except Exception as exc:
        if _stopping:  # interrupted inside Optuna's own bookkeeping: the trial is failed already
            raise SystemExit(130) from None
        errors.put(f"internal error in sweep worker {index} ({type(exc).__name__}: {exc}); this is a bug in netspec, please report it")
        raise SystemExit(4) from None
