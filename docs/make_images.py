"""Regenerate the README's pictures in docs/img/ (one of each `netspec plot` kind) from small
training runs of the example specs (about half a minute on one core).

    python docs/make_images.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from threadpoolctl import threadpool_limits

import netspec
from netspec.inspect.plot import plot_run

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        cnn = netspec.train(ROOT / "specs" / "digits_cnn.toml", out=Path(tmp) / "cnn", epochs=20).run_dir
        mlp = netspec.train(ROOT / "specs" / "digits_mlp.toml", out=Path(tmp) / "mlp", epochs=20).run_dir
        deep = netspec.train(ROOT / "specs" / "vanishing_sigmoid.toml", out=Path(tmp) / "deep").run_dir
        jobs = [
            (cnn, "curves", {}),
            (cnn, "confusion", {}),
            (cnn, "filters", {}),
            (cnn, "features", {"layer": "conv1"}),
            (mlp, "maximize", {"layer": "output.pre", "units": list(range(10))}),  # class logits
            (deep, "gradients", {}),
        ]
        for run, kind, options in jobs:
            info = plot_run(run, kind, IMG / f"{kind}.png", **options)
            print(f"{info['path']}: {info['width']}x{info['height']}")


if __name__ == "__main__":
    main()
