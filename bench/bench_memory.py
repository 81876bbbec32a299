"""Peak RSS of a whole `netspec train` run on one of the bench workloads, as a child process.

    python bench/bench_memory.py                          # cnn_mnist, this checkout's code
    python bench/bench_memory.py --baseline ../old        # and an older checkout, alternating
    python bench/bench_memory.py --workload lstm_seq --epochs 3

The workload's spec (bench/workloads/) gets a [data] section over an NPZ of random inputs and
labels of the bench's size, and `netspec train SPEC --json` runs as a subprocess with 1 BLAS
thread; the peak RSS is the child's own (`os.wait4` rusage, bench_data.run_child). With
--baseline DIR the same command runs against the `netspec` and `netspec_cli` packages of DIR (a
second checkout: DIR/netspec and DIR/cli), in alternating repeats; every figure is in MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench_data import run_child  # noqa: E402

SAMPLES = {"mlp_digits": 1797, "mlp_mnist": 5000, "cnn_mnist": 2000, "lstm_seq": 2000}
DATA = """
[data]
path = "data.npz"
x_key = "x"
target = "y"
split = { train = 0.8, val = 0.1, test = 0.1 }
"""


def write_case(workload: str, folder: Path, epochs: int) -> Path:
    """The workload spec with a [data] section over random data of its bench size."""
    text = (HERE / "workloads" / f"{workload}.toml").read_text()
    shape_line = next(line for line in text.splitlines() if line.startswith("input_shape"))
    shape = json.loads(shape_line.split("=", 1)[1])
    rng = np.random.default_rng(0)
    n = SAMPLES[workload]
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    if "mse" in text:
        y = rng.standard_normal((n, 1)).astype(np.float32)
    else:
        y = rng.integers(0, 10, n)
    np.savez(folder / "data.npz", x=x, y=y)
    text = text.replace("epochs = 1", f"epochs = {epochs}")
    before, after = text.split("[model]", 1)
    spec = folder / "spec.toml"
    spec.write_text(before + DATA + "\n[model]" + after)
    return spec


def launcher(root: Path, folder: Path, name: str) -> list[str]:
    """python -c that runs the CLI of the checkout `root` (its netspec/ and cli/ packages, not
    whichever netspec is installed)."""
    link = folder / f"{name}_pkgs"
    link.mkdir(exist_ok=True)
    for name, src in (("netspec", root / "netspec"), ("netspec_cli", root / "cli")):
        if not (link / name).exists():
            (link / name).symlink_to(src.resolve(), target_is_directory=True)
    code = f"import sys; sys.path.insert(0, {str(link)!r}); from netspec_cli.main import main; sys.argv[0] = 'netspec'; main()"
    return [sys.executable, "-c", code]


def run_once(cmd: list[str], spec: Path, out: Path, numba_cache: Path) -> float:
    # each side its own Numba cache (compiled on its first repeat, the median is of warm runs):
    # Numba keys its cache by source path, and bench_ab / bench_kernels import a baseline's
    # package under another name, whose cache entries a plain `import netspec` cannot load
    env = {"NUMBA_CACHE_DIR": str(numba_cache)}
    wall, usage, stdout, stderr, code = run_child([*cmd, "train", str(spec), "--out", str(out), "--json"], spec.parent, env)
    if code != 0:
        raise SystemExit(f"netspec train failed ({code}):\n{stderr[-3000:]}")
    json.loads(stdout)  # a complete run printed its result
    return usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=sorted(SAMPLES), default="cnn_mnist")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="an older checkout holding netspec/ and cli/")
    args = ap.parse_args()
    if args.baseline is not None and not (args.baseline / "netspec" / "__init__.py").is_file():
        raise SystemExit(f"error: --baseline {args.baseline}: no netspec/__init__.py there")
    with tempfile.TemporaryDirectory(prefix="netspec-mem-") as tmp:
        folder = Path(tmp)
        spec = write_case(args.workload, folder, args.epochs)
        sides = {"netspec": launcher(HERE.parent, folder, "netspec")}
        if args.baseline is not None:
            sides["baseline"] = launcher(args.baseline, folder, "baseline")
        rss: dict[str, list[float]] = {k: [] for k in sides}
        for r in range(args.repeats):
            for k, cmd in sides.items():
                rss[k].append(run_once(cmd, spec, folder / f"run-{k}-{r}", folder / f"numba-{k}"))
        report = {"workload": args.workload, "epochs": args.epochs,
                  **{f"{k}_peak_rss_mb": round(statistics.median(v), 1) for k, v in rss.items()},
                  **{f"{k}_all_mb": [round(x, 1) for x in v] for k, v in rss.items()}}  # fmt: skip
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
