"""What the compiled kernels cost a short run: `netspec train` of a small CNN spec as a child
process, wall time and peak RSS, in three states:

- numpy:  NETSPEC_KERNELS=numpy, the numpy kernels (as without the `fast` extra);
- cold:   the compiled kernels with an empty Numba cache (a new machine's first run compiles);
- warm:   the compiled kernels again, loading what the cold run cached.

    python bench/bench_startup.py                          # specs/digits_cnn.toml, 2 epochs
    python bench/bench_startup.py --spec SPEC --epochs 1 --repeats 3

Each state runs --repeats times (cold: each with a fresh cache), alternating; medians reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench_data import run_child

HERE = Path(__file__).resolve().parent


def run(spec: Path, epochs: int, env: dict, folder: Path) -> tuple[float, float]:
    cmd = [sys.executable, "-c", "from netspec_cli.main import main; main()", "train", str(spec),
           "--epochs", str(epochs), "--out", str(folder / "run"), "--json"]  # fmt: skip
    wall, usage, _, stderr, code = run_child(cmd, folder, env)
    if code != 0:
        raise SystemExit(f"netspec train failed ({code}):\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", type=Path, default=HERE.parent / "specs" / "digits_cnn.toml")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"numpy": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for r in range(args.repeats):
            for state in results:
                folder = root / f"{state}{r}"
                folder.mkdir()
                env = {"NUMBA_CACHE_DIR": str(root / f"cache{r}")}  # empty for cold; warm loads what cold wrote
                if state == "numpy":
                    env = {"NETSPEC_KERNELS": "numpy", "NUMBA_CACHE_DIR": str(root / f"unused{r}")}
                results[state].append(run(args.spec, args.epochs, env, folder))
    print(f"netspec train {args.spec.name} --epochs {args.epochs}, medians of {args.repeats}")
    for state, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        rss = statistics.median(m for _, m in runs)
        print(f"  {state:<6} {wall:6.2f} s wall   peak RSS {rss:6.1f} MB")


if __name__ == "__main__":
    main()
