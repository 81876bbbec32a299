"""The numbers behind the README's "lecture claims" table: trains the example specs that
reproduce them (seed 0, one BLAS thread; about a minute) and prints a markdown table.

    python bench/lecture_claims.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import netspec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT / "tests"))

from test_lecture_claims import RECALL_SEEDS, _epochs_to, _gradients, half_bright_image, recall_accuracies  # noqa: E402


def main() -> None:
    rows = []
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        for name in ("vanishing_sigmoid", "vanishing_relu"):
            g = _gradients(netspec.train(SPECS / f"{name}.toml", out=Path(tmp) / name).run_dir)[-1]
            rows.append((f"{name}.toml", "first / last layer gradient norm (epoch 3)", f"{g['dense1'] / g['output']:.2g}"))
        for name in ("deep_batchnorm", "deep_plain"):
            h = netspec.train(SPECS / f"{name}.toml", save=False).history
            rows.append((f"{name}.toml", "epochs to validation loss <= 0.9", str(_epochs_to(h, 0.9))))
        seeds = f"{RECALL_SEEDS.start}-{RECALL_SEEDS.stop - 1}"
        for name in ("recall_lstm", "recall_rnn"):
            accs = recall_accuracies(name)
            rows.append((f"{name}.toml", f"test accuracy (chance 0.25), median of seeds {seeds} [each]",
                         f"{np.median(accs):.2f} [{' '.join(f'{a:.2f}' for a in accs)}]"))
        edge = netspec.train(SPECS / "edge_filter.toml", out=Path(tmp) / "edge", epochs=1).model
        out = edge.activations(half_bright_image(), ["edge"])["edge"][0, 0]
        rows.append(("edge_filter.toml", "response to the 6x6 half-bright image (each row)",
                     " ".join(f"{v:g}" for v in out[0]) + f" ({'all rows equal' if np.all(out == out[0]) else 'rows differ'})"))
    print("| spec | measured | value |")
    print("| --- | --- | --- |")
    for spec, what, value in rows:
        print(f"| {spec} | {what} | {value} |")


if __name__ == "__main__":
    main()
