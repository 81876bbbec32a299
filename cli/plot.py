"""`netspec plot RUN --kind KIND`: one PNG of a trained run (needs the `plots` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, emit_json, handle_errors, say


def _units(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected unit indices such as 0,1,2, got {text!r}", param_hint="--units") from None
    if not units or min(units) < 0:
        raise typer.BadParameter(f"expected unit indices >= 0 such as 0,1,2, got {text!r}", param_hint="--units")
    return units


@handle_errors
def plot(
    run: Annotated[Path, typer.Argument(help="A run folder (or a spec: its latest run).", show_default=False)],
    kind: Annotated[str, typer.Option("--kind", "-k", help="curves, confusion, filters, features, maximize or gradients.")] = "curves",
    out: Annotated[Path | None, typer.Option("--output", "-o", help="The PNG to write (default: RUN/KIND.png).")] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="Layer for filters, features and maximize.")] = None,
    units: Annotated[str | None, typer.Option("--units", help="Units to maximize, e.g. 0,1,2 (default: the first 16).")] = None,
    split: Annotated[str, typer.Option("--split", help="Split for confusion and features: train, val or test.")] = "test",
    example: Annotated[int, typer.Option("--example", min=0, help="Index of the example (features).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Draw a picture of a trained run: learning curves (default), a confusion matrix, first-layer
    filters, feature maps, inputs that maximize units, or gradient norms per layer."""
    from netspec.inspect.plot import KINDS, plot_run

    if kind not in KINDS:
        raise typer.BadParameter(f"expected one of {', '.join(KINDS)}, got {kind!r}", param_hint="--kind")
    if split not in ("train", "val", "test"):
        raise typer.BadParameter(f"expected train, val or test, got {split!r}", param_hint="--split")
    info = plot_run(run, kind, out, layer=layer, units=_units(units), split=split, example=example)
    say(f"wrote {info['path']} ({info['width']}x{info['height']} px)")
    if json_output:
        emit_json({"ok": True, **info})


def register(app: typer.Typer) -> None:
    app.command("plot")(plot)
