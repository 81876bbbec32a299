"""One trial: sample the space, write the trial's run folder runs/<study>/trial-<k> (a normal run
folder plus trial.json with the sampled values), train, report each epoch's objective metric to
the pruner, and return the final metric from the run's result.json."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import NetspecError, TrainingDiverged
from ..training.checkpoint import write_json
from ..training.events import StopTraining
from .space import Param, SweepPlan


def suggest(trial, p: Param):
    d, kind = p.dim, p.dim.kind
    if kind == "choice":
        return trial.suggest_categorical(p.name, list(d.choice))
    lo, hi = d.bounds
    if kind == "int":
        return trial.suggest_int(p.name, int(lo), int(hi), step=int(d.step or 1))
    return trial.suggest_float(p.name, float(lo), float(hi), log=kind == "log_uniform", step=d.step)


class _Pruning:
    """Training callback: each epoch's objective value goes to Optuna; a pruned trial stops
    after that epoch (its run folder is still completed)."""

    def __init__(self, trial, key: str):
        self.trial, self.key, self.pruned_at = trial, key, 0

    def __call__(self, ev) -> None:
        if ev.kind != "epoch_end" or self.key not in ev.data or self.trial is None:
            return
        self.trial.report(float(ev.data[self.key]), ev.epoch)
        if self.trial.should_prune():
            self.pruned_at = ev.epoch
            raise StopTraining


class OverBudget(Exception):
    """Workers on several machines asked for the last trials at once: the storage numbers trials
    in order, so the trial numbered past the budget gives way (failed, marked, no folder)."""


class MissedGridPoint(OverBudget):
    """Two workers reached for the last queued grid point at once and this one got a fresh
    trial instead: it gives way without running, and the worker asks again."""


def _over_budget(trial, budget: int) -> bool:
    from .storage import counts_as_done

    before = trial.study.get_trials(deepcopy=False)
    taken = sum(t.number < trial.number and (counts_as_done(t) or t.state.name == "RUNNING") for t in before)
    return taken >= budget


def make_objective(plan: SweepPlan, runs: Path, study_name: str, budget: int):
    import optuna

    from ..api import train

    def objective(trial) -> float:
        objective.missed = plan.sweep.sampler == "grid" and "fixed_params" not in trial.storage.get_trial_system_attrs(trial._trial_id)
        if objective.missed or _over_budget(trial, budget):
            trial.set_user_attr("over_budget", True)
            raise MissedGridPoint if objective.missed else OverBudget
        folder = runs / f"trial-{trial.number}"
        # One write: who runs the trial (a rerun on this host fails it if that process is gone).
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid(), "run_dir": str(folder)})
        values = {p.name: suggest(trial, p) for p in plan.params}
        if (folder / "spec.json").exists():
            raise NetspecError(
                f"{folder} already holds a run this study does not know (was its study.db removed?): "
                f"move {runs} away or give the sweep another --study NAME"
            )
        spec = plan.spec_for(values)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "trial.json", {"study": study_name, "trial": trial.number, "params": values,
                                           "objective": plan.metric, "direction": plan.direction,
                                           "sweep": str(plan.sweep.file)})  # fmt: skip
        # Without a pruner nothing reads per-epoch values: no storage write per epoch.
        pruning = _Pruning(trial if plan.sweep.pruner != "none" else None, plan.epoch_key)
        try:
            result = train(spec, out=folder, callback=pruning)
        except KeyboardInterrupt:  # Ctrl-C or the parent's SIGTERM: failed, run again on a rerun
            trial.set_user_attr("interrupted", True)
            raise
        except TrainingDiverged as exc:  # a legitimate outcome of a bad learning rate: the trial fails
            trial.set_user_attr("error", str(exc))
            raise
        except NetspecError as exc:  # bad data or the like: every trial would fail, so stop the sweep
            trial.set_user_attr("fatal", str(exc))  # not counted: rerun once it is fixed
            raise
        trial.set_user_attr("result", {"epochs_run": len(result.history), "metrics": result.metrics})
        value = float(result.metrics[plan.split][plan.name])
        if pruning.pruned_at:
            trial.set_user_attr("pruned_at", pruning.pruned_at)
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
        return value

    return objective


def make_sampler(plan: SweepPlan, budget: int, seed: int):
    import optuna

    s = plan.sweep.sampler
    if s == "random" or s == "grid":  # grid points are queued trials (runner.enqueue_grid)
        return optuna.samplers.RandomSampler(seed=seed)
    # A third of the budget (2-10 trials) explores at random before TPE models the results.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, budget // 3)), constant_liar=True)


def make_pruner(plan: SweepPlan):
    import optuna

    epochs = plan.base.train.epochs
    if plan.sweep.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 5))
    if plan.sweep.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, epochs // 10), max_resource=epochs)
    return optuna.pruners.NopPruner()
