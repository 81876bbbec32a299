"""The sweep file (TOML or JSON) as strict Pydantic models, loaded with the spec's own parser,
source maps and error translation, so its errors are located exactly like a spec's.

    name = "iris-mlp-sweep"            # optional: runs/<name>/ (default: the file's stem)
    spec = "../iris_mlp.toml"          # the base spec, relative to this file
    trials = 20
    sampler = "tpe"                    # tpe, random or grid
    pruner = "median"                  # none, median or hyperband
    seed = 0
    [objective]
    metric = "val_accuracy"            # a monitored split metric: val_<m> or train_<m>
    direction = "maximize"             # default: from the metric
    [space]
    "train.optimizer.learning_rate" = { log_uniform = [1e-4, 1e-1] }
    "model.layers[0].units" = { choice = [8, 16, 32] }
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from ..errors import Diagnostic, SpecError
from ..spec.layers import Strict
from ..spec.load import _locate_all, parse_text
from ..spec.positions import SourceMap
from ..spec.translate import translate
from ..spec.types import PosFloat, PosInt

Pair = Annotated[list[float], Field(min_length=2, max_length=2)]
IntPair = Annotated[list[int], Field(min_length=2, max_length=2)]
Scalar = bool | int | float | str


class Dimension(Strict):
    """One searched key: exactly one of uniform, log_uniform, int or choice."""

    uniform: Pair | None = None
    log_uniform: Pair | None = None
    int_: IntPair | None = Field(None, alias="int")
    choice: Annotated[list[Scalar], Field(min_length=1)] | None = None
    step: PosFloat | None = None

    @property
    def kind(self) -> str:
        return next(k for k in ("uniform", "log_uniform", "int", "choice") if self.values_of(k) is not None)

    def values_of(self, kind: str):
        return self.int_ if kind == "int" else getattr(self, kind)

    @property
    def bounds(self) -> list:
        return self.values_of(self.kind)

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("uniform", "log_uniform", "int", "choice") if self.values_of(k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of uniform = [lo, hi], log_uniform = [lo, hi], int = [lo, hi] or "
                f"choice = [...], got {' and '.join(given) if given else 'none'}"
            )
        kind = given[0]
        if kind != "choice":
            lo, hi = self.values_of(kind)
            if not lo < hi:
                raise ValueError(f"{kind} = [{lo}, {hi}]: the low end must be below the high end")
            if kind == "log_uniform" and lo <= 0:
                raise ValueError(f"log_uniform = [{lo}, {hi}]: both ends must be > 0 (use uniform for 0)")
        if self.step is not None:
            if kind not in ("uniform", "int"):
                raise ValueError(f"`step` works with uniform and int, not with {kind}")
            if kind == "int" and self.step != int(self.step):
                raise ValueError(f"an int range needs a whole-number step, got {self.step}")
        if kind == "choice" and len({repr(v) for v in self.choice}) != len(self.choice):
            raise ValueError("choice lists a value twice; list each value once")
        return self


class Objective(Strict):
    metric: str = "val_loss"
    direction: Literal["minimize", "maximize"] | None = None


class Sweep(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)] | None = None
    spec: str
    objective: Objective = Objective()
    trials: PosInt = 20
    timeout: PosFloat | None = None  # seconds for this command; a running trial is let finish
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    pruner: Literal["none", "median", "hyperband"] = "median"
    seed: Annotated[int, Field(ge=0)] = 0
    space: Annotated[dict[str, Dimension], Field(min_length=1)]

    _source: object = PrivateAttr(default=None)
    _file: Path = PrivateAttr(default=Path())

    @property
    def source(self) -> SourceMap:
        return self._source

    @property
    def file(self) -> Path:
        return self._file

    @property
    def study_name(self) -> str:
        return self.name or self._file.stem

    @property
    def spec_path(self) -> Path:
        p = Path(self.spec)
        return p if p.is_absolute() else self._file.parent / p


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; errors are located FILE:LINE:COL diagnostics."""
    path = Path(path)
    file = str(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise SpecError([Diagnostic("file", f"a sweep file ends in .toml or .json, got {path.name!r}", (), file)])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError([Diagnostic("file", "no such file", (), file)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Diagnostic("file", f"cannot read the sweep file: {exc}", (), file)]) from None
    fmt = path.suffix.lower()[1:]
    data, smap = parse_text(text, file, fmt)
    try:
        sweep = Sweep.model_validate(data)
    except ValidationError as exc:
        diags = _locate_all(translate(exc, data, Sweep, fmt), smap)
        raise SpecError([_quoted(d) for d in diags]) from None
    sweep._source, sweep._file = smap, path
    return sweep


def _quoted(d: Diagnostic) -> Diagnostic:
    if len(d.path) > 1 and d.path[0] == "space" and isinstance(d.path[1], str):
        return Diagnostic(d.code, d.message, ("space", f'"{d.path[1]}"', *d.path[2:]), d.file, d.line, d.col)
    return d


def located(sweep: Sweep, path: tuple, code: str, message: str) -> Diagnostic:
    """A diagnostic at `path` of the sweep file; a space key shows quoted (its dots are its own)."""
    line, col = sweep.source.locate(path)
    return _quoted(Diagnostic(code, message, path, sweep.source.file, line, col))
