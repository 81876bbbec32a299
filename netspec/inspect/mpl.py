"""matplotlib, imported only here (the `plots` extra), drawing off-screen with the Agg canvas.

Figures are made with matplotlib.figure.Figure and FigureCanvasAgg directly, not pyplot, so a
plot never switches the backend of a user's own session. Every picture is WIDTH pixels wide
at DPI dots per inch, without tight cropping, so its size is known before it is drawn.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import NetspecError

WIDTH = 800
DPI = 100


def figure(height: int):
    """A WIDTH x height pixel figure on the Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NetspecError(
            "plots need matplotlib, which is not installed: pip install 'netspec[plots]'"
        ) from None
    fig = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: Path) -> dict:
    """Write the PNG (atomically: temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=DPI)
    tmp.replace(path)
    width, height = fig.canvas.get_width_height()
    return {"path": str(path), "width": width, "height": height}
