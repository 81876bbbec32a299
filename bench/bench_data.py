"""Data-path benchmark: generate a large CSV / NPZ / NPY, run `netspec train` on it as a
subprocess, report wall time, peak RSS of the child and samples/s.

    python bench/bench_data.py csv           # 200,000 x 64 + label CSV (95 MB), one dense layer
    python bench/bench_data.py npz           # 500,000 x 784 float32 + labels (1.57 GB), 784-256-10
    python bench/bench_data.py npy --rows N  # x.npy + y.npy of N x 784 float32 (default: > half RAM)
    python bench/bench_data.py npz --small   # the same model on a small in-memory-sized file

Files go to --dir (default: a temporary folder) and are deleted afterwards unless --keep.
Peak RSS is `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` of the `netspec train` child (one child
per bench process, so the figure is that run's own). "baseline" is the same command on a
1,000-row file: the interpreter, numpy and netspec themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DENSE_SPEC = """name = "bench-{name}"
seed = 0
[data]
path = "{path}"
{data_keys}
standardize = {standardize}
split = {{ train = 0.8, val = 0.1, test = 0.1 }}
[model]
input_shape = [{features}]
{layers}
[train]
epochs = 1
batch_size = {batch}
loss = "cross_entropy"
metrics = ["accuracy"]
optimizer = {{ type = "adam", learning_rate = 0.001 }}
"""
LAYER = '[[model.layers]]\ntype = "dense"\nunits = {units}\nactivation = "{act}"\n'


def write_csv(path: Path, rows: int, features: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(",".join([f"f{i}" for i in range(features)] + ["label"]) + "\n")
        for start in range(0, rows, 20_000):
            n = min(20_000, rows - start)
            x = rng.standard_normal((n, features)).astype(np.float32)
            y = rng.integers(0, 10, n)
            block = np.column_stack([x.astype(object), y.astype(object)])
            f.write("\n".join(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) for r in block))
            f.write("\n")


def write_npz(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """np.savez (stored, uncompressed) written in chunks through np.lib.format, so generating the
    file never holds it in memory."""
    import zipfile

    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_2_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (rows, features)}
            )
            for start in range(0, rows, 50_000):
                n = min(50_000, rows - start)
                f.write(rng.standard_normal((n, features), dtype=np.float32).tobytes())
        with zf.open("y.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, rng.integers(0, 10, rows).astype(np.int64))


def write_npy(folder: Path, rows: int, features: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (rows, features))
    for start in range(0, rows, 50_000):
        n = min(50_000, rows - start)
        x[start : start + n] = rng.standard_normal((n, features), dtype=np.float32)
        x.flush()
        if hasattr(x, "_mmap"):  # keep the writer's own RSS bounded as well
            import mmap

            x._mmap.madvise(mmap.MADV_DONTNEED)
    del x
    np.save(folder / "y.npy", rng.integers(0, 10, rows).astype(np.int64))


def run_train(spec: Path) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "from netspec_cli.main import main; main()", "train", str(spec), "--out", str(spec.parent / "run"), "--json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"netspec train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout)
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "result": result}  # fmt: skip


def case_files(case: str, folder: Path, rows: int) -> tuple[str, int, str]:
    """Writes the data; returns ([data] keys, features, layers)."""
    if (folder / {"csv": "data.csv", "npz": "data.npz", "npy": "y.npy"}[case]).exists():
        pass  # --keep from an earlier run: reuse the generated data
    elif case == "csv":
        write_csv(folder / "data.csv", rows, 64)
    elif case == "npz":
        write_npz(folder / "data.npz", rows, 784)
    else:
        write_npy(folder, rows, 784)
    if case == "csv":
        return 'target = "label"', 64, LAYER.format(units=10, act="softmax")
    layers = LAYER.format(units=256, act="relu") + LAYER.format(units=10, act="softmax")
    if case == "npz":
        return 'x_key = "x"\ntarget = "y"', 784, layers
    return 'targets = "y.npy"', 784, layers


def bench(case: str, rows: int, folder: Path) -> dict:
    keys, features, layers = case_files(case, folder, rows)
    path = {"csv": "data.csv", "npz": "data.npz", "npy": "x.npy"}[case]
    spec = folder / "spec.toml"
    shutil.rmtree(folder / "run", ignore_errors=True)
    spec.write_text(DENSE_SPEC.format(name=case, path=path, data_keys=keys, features=features, layers=layers,
                                      standardize="true" if case != "csv" else "false",
                                      batch=128))  # fmt: skip
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    out = run_train(spec)
    out.update({"case": case, "rows": rows, "file_mb": size / 2**20, "data_f32_mb": rows * features * 4 / 2**20})
    res = out.pop("result")
    out["load_s"] = res.get("load_seconds")
    out["epoch_s"] = res.get("epoch_seconds")
    out["eval_s"] = res.get("eval_seconds")
    out["reported_peak_rss_mb"] = res.get("peak_rss_mb")
    if out["epoch_s"]:
        out["samples_per_s"] = int(rows * 0.8 / out["epoch_s"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=["csv", "npz", "npy"])
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--small", action="store_true", help="1/50 of the rows (the in-memory reference)")
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    rows = args.rows or {"csv": 200_000, "npz": 500_000}.get(args.case)
    if rows is None:  # > half of physical memory
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows = int(mem * 0.52 / (784 * 4)) + 1
    if args.small:
        rows //= 50
    base = args.dir or Path(tempfile.mkdtemp(prefix="netspec-bench-"))
    folder = base / f"{args.case}-{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(bench(args.case, rows, folder), indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
