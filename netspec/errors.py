"""Errors that reach users: every one is located and says how to fix it.

The library raises these; the CLI turns them into `FILE:LINE:COL: error[CODE]: MESSAGE` lines and
exit codes. Nothing here prints.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Diagnostic:
    """One user-facing error. `path` is the key path in the user's terms, e.g.
    ("model", "layers", 2, "kernel_size"); file/line/col are filled in from the spec's source map."""

    code: str
    message: str
    path: tuple = ()
    file: str = ""
    line: int = 0
    col: int = 0

    @property
    def key_path(self) -> str:
        return format_path(self.path)

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else (self.file or "<spec>")
        prefix = f"{self.key_path}: " if self.path else ""
        return f"{where}: error[{self.code}]: {prefix}{self.message}"

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.key_path,
        }


def format_path(path: tuple) -> str:
    """("model", "layers", 2, "units") -> "model.layers[2].units"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(word: object, choices, quote: str = "`") -> str:
    """A '; did you mean `x`?' suffix, or '' when nothing is close. Keys are quoted with
    backticks (the default); string values the user writes in quotes pass quote='"'."""
    close = closest(word, choices)
    return f"; did you mean {quote}{close}{quote}?" if close else ""


def closest(word: object, choices) -> str | None:
    """The choice closest to `word` (case-insensitive), or None when nothing is close."""
    if not isinstance(word, str) or not word:
        return None
    choices = [c for c in choices if isinstance(c, str)]
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


class NetspecError(Exception):
    """Base of every error a user can cause (bad spec, bad data, bad checkpoint)."""

    exit_code = 1


@dataclass
class SpecError(NetspecError):
    """One or more located problems in a spec file."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class DataError(NetspecError):
    """Bad data: the message names the file, 1-based line, column and value."""


class CheckpointError(NetspecError):
    """A run folder or checkpoint that cannot be used."""


class TrainingDiverged(NetspecError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""

    exit_code = 3
