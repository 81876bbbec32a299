"""The search space checked against the base spec before any trial runs, and trial specs built
from sampled values.

Checks, each a located error in the sweep file: every key path exists in the resolved base spec;
every range's values are valid for its key (validated by the spec models at the range's ends and
at every choice); the spec compiles at the corners of the space (every combination of range
ends, or the two extreme corners plus one key at a time when there are more than 64); the
objective names a metric the runs record.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..compiler import compile_spec
from ..errors import Diagnostic, SpecError, format_path
from ..spec import Spec, load_spec
from ..spec.load import validate_data
from ..training.metrics import higher_is_better
from .model import Dimension, Sweep, located
from .paths import PathError, check_path, parse_path, with_values

MAX_CORNERS = 64


@dataclass
class Param:
    name: str  # the user's key path, as written in [space]; also the Optuna parameter name
    path: tuple
    dim: Dimension

    def extremes(self) -> list:
        """The values a sampler can return that lie furthest apart (every choice for choice)."""
        d, kind = self.dim, self.dim.kind
        if kind == "choice":
            return list(d.choice)
        lo, hi = d.bounds
        if kind == "int":
            step = int(d.step or 1)
            return [int(lo), int(lo + (hi - lo) // step * step)]
        if d.step is not None:  # Optuna's stepped range ends on the last step below hi
            hi = lo + math.floor((hi - lo) / d.step + 1e-9) * d.step
        return [float(lo), float(hi)]

    def grid(self) -> list | None:
        """Every value of a finite dimension (choice, int, stepped uniform); None otherwise."""
        d, kind = self.dim, self.dim.kind
        if kind == "choice":
            return list(d.choice)
        if kind == "int":
            lo, hi = d.bounds
            return list(range(int(lo), int(hi) + 1, int(d.step or 1)))
        if kind == "uniform" and d.step is not None:
            lo, hi = d.bounds
            n = math.floor((hi - lo) / d.step + 1e-9)
            return [round(lo + k * d.step, 12) for k in range(n + 1)]
        return None


@dataclass
class SweepPlan:
    """A checked sweep: the base spec, its searched keys and the objective."""

    sweep: Sweep
    base: Spec
    doc: dict  # the resolved base spec (every default filled in)
    params: list[Param]
    metric: str  # e.g. "val_accuracy"
    split: str  # "val" or "train": result.json's metrics[split][name]
    name: str  # "accuracy"
    direction: str
    drops_expect: bool = False
    grid: dict[str, list] = field(default_factory=dict)

    @property
    def epoch_key(self) -> str:
        """The key of the per-epoch training row that tracks the objective (for pruning)."""
        return self.metric if self.split == "val" else self.name

    def spec_for(self, values: dict[str, Any]) -> Spec:
        """The base spec with sampled values (by parameter name) set in it."""
        by_path = {p.path: values[p.name] for p in self.params}
        doc = with_values(self.doc, by_path)
        if self.drops_expect and doc.get("expect"):
            # A searched width changes what [expect] pins; it was checked on the base spec.
            doc["expect"] = {k: v for k, v in doc["expect"].items() if k not in ("params", "trainable_params", "max_flops")}
        return validate_data(doc, self.base.source)


def check_sweep(sweep: Sweep, compile_corners: bool = True) -> SweepPlan:
    """Load the base spec and check the space and objective against it (SpecError if not)."""
    if not sweep.spec_path.is_file():
        raise SpecError([located(sweep, ("spec",), "file", f"no such spec file: {sweep.spec_path}")])
    base = load_spec(sweep.spec_path)
    doc = json.loads(base.model_dump_json())
    diags: list[Diagnostic] = []
    params: list[Param] = []
    for name, dim in sweep.space.items():
        try:
            path = parse_path(name)
            check_path(doc, path)
        except PathError as exc:
            diags.append(located(sweep, ("space", name), "unknown-key", str(exc)))
            continue
        params.append(Param(name, path, dim))
    split, metric_name, problem = _objective(sweep, base)
    if problem:
        diags.append(located(sweep, ("objective", "metric"), "value", problem))
    direction = sweep.objective.direction
    if direction is None and not problem:
        direction = "maximize" if higher_is_better(sweep.objective.metric) else "minimize"
    plan = SweepPlan(sweep, base, doc, params, sweep.objective.metric, split, metric_name, direction or "minimize",
                     drops_expect=any(p.path[0] == "model" for p in params))  # fmt: skip
    if sweep.sampler == "grid":
        for p in params:
            values = p.grid()
            if values is None:
                diags.append(located(sweep, ("space", p.name), "value",
                                     'the grid sampler needs a finite set of values: give uniform a `step`, or use choice or int'))  # fmt: skip
            else:
                plan.grid[p.name] = values
    diags += _check_values(plan)
    if diags:
        raise SpecError(sorted(diags, key=lambda d: (d.line, d.col)))
    if compile_corners:
        diags += _check_corners(plan)
    if diags:
        raise SpecError(diags)
    return plan


def _objective(sweep: Sweep, base: Spec) -> tuple[str, str, str]:
    """(split, metric name, problem or "") for objective.metric."""
    metric = sweep.objective.metric
    known = ["loss", *base.train.resolved_metrics]
    offered = ", ".join(f"{s}_{m}" for s in ("val", "train") for m in known)
    split, _, name = metric.partition("_")
    if split == "test":
        return split, name, "the test split is kept for the final estimate: tune on a val_ metric"
    if split not in ("val", "train") or name not in known:
        return split, name, f"unknown objective metric {metric!r}; the base spec's runs record: {offered}"
    if split == "val" and base.data is not None and base.data.split.val == 0:
        return split, name, "the base spec has no validation split (data.split.val = 0): give it one, or tune on a train_ metric"
    return split, name, ""


def _check_values(plan: SweepPlan) -> list[Diagnostic]:
    """Each value at the ends of a range (and each choice) must be valid for its key."""
    diags = []
    for p in plan.params:
        for value in p.extremes():
            try:
                plan.spec_for({q.name: value if q is p else _current(plan, q) for q in plan.params})
            except SpecError as exc:
                first = exc.diagnostics[0]
                hint = ""
                if first.code == "type" and p.dim.kind in ("uniform", "log_uniform") and isinstance(_current(plan, p), int):
                    hint = f"; {p.name} takes whole numbers: search it with int = [lo, hi] or choice"
                where = f" ({format_path(first.path)})" if first.path and first.path != p.path else ""
                diags.append(located(plan.sweep, ("space", p.name), first.code,
                                     f"{value!r} is not valid here{where}: {first.message}{hint}"))  # fmt: skip
                break
    return diags


def _current(plan: SweepPlan, p: Param) -> Any:
    node: Any = plan.doc
    for part in p.path:
        node = node[part]
    return node


def corners(params: list[Param]) -> list[dict[str, Any]]:
    """Every combination of extremes; past MAX_CORNERS the two extreme corners and one key at a
    time from the low corner."""
    ends = [p.extremes() for p in params]
    if math.prod(len(e) for e in ends) <= MAX_CORNERS:
        return [dict(zip((p.name for p in params), combo)) for combo in itertools.product(*ends)]
    low = {p.name: e[0] for p, e in zip(params, ends)}
    out = [low, {p.name: e[-1] for p, e in zip(params, ends)}]
    for p, e in zip(params, ends):
        out += [{**low, p.name: v} for v in e[1:]]
    return out


def _check_corners(plan: SweepPlan) -> list[Diagnostic]:
    for corner in corners(plan.params):
        try:
            compile_spec(plan.spec_for(corner))
        except SpecError as exc:
            at = ", ".join(f"{k} = {v!r}" for k, v in corner.items())
            inner = "; ".join(d.render() for d in exc.diagnostics)
            return [located(plan.sweep, ("space",), exc.diagnostics[0].code,
                            f"the spec does not compile at the corner {at} of the space: {inner}; narrow the ranges")]  # fmt: skip
    return []
