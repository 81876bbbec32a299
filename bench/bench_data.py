"""Data-path benchmark: generate a large CSV / NPZ / NPY, run `netspec train` on it as a
subprocess, report wall time, peak RSS of the child and samples/s.

    python bench/bench_data.py csv           # 200,000 x 64 + label CSV (112 MB), one dense layer
    python bench/bench_data.py npz           # 500,000 x 784 float32 + labels (1.57 GB), 784-256-10
    python bench/bench_data.py npz --small   # the same model on 10,000 rows, compressed: in memory
    python bench/bench_data.py npy --model linear --batch 512   # x.npy + y.npy > half of RAM
    python bench/bench_data.py npz --small --model linear --batch 512   # its in-memory reference

Files go to --dir (default: a temporary folder) and are deleted afterwards unless --keep.
Peak RSS and CPU times are the `netspec train` child's own (`os.wait4` rusage). `load_s`,
`epoch_s`, `eval_s` and `reported_peak_rss_mb` come from `train --json`. For the CSV case the
same CSV is also read by `numpy.loadtxt` in a child (the reference the load time is held to).
"""

from __future__ import annotations

import argparse
import json
import os
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


def write_npz(path: Path, rows: int, features: int, seed: int = 0, compressed: bool = False) -> None:
    """np.savez (stored, uncompressed: memory-mapped by netspec) written in chunks through
    np.lib.format, so generating the file never holds it in memory; `compressed` writes what
    np.savez_compressed does (read into memory by netspec)."""
    import zipfile

    rng = np.random.default_rng(seed)
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method, allowZip64=True) as zf:
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


def run_child(cmd: list[str], folder: Path, env: dict | None = None) -> tuple[float, object, str, str, int]:
    """(wall s, rusage of that child alone (os.wait4), stdout, stderr, exit code); `env` adds to
    the child's environment."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
    out_path, err_path = folder / "child.out", folder / "child.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage, out_path.read_text(), err_path.read_text(), proc.returncode


def run_train(spec: Path) -> dict:
    cmd = [sys.executable, "-c", "from netspec_cli.main import main; main()", "train", str(spec),
           "--out", str(spec.parent / "run"), "--json"]  # fmt: skip
    wall, usage, stdout, stderr, code = run_child(cmd, spec.parent)
    if code != 0:
        raise SystemExit(f"netspec train failed ({code}):\n{stderr[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "result": json.loads(stdout)}  # fmt: skip


def run_loadtxt(path: Path) -> dict:
    """The reference: numpy.loadtxt of the same CSV (all columns, float32), in a child too."""
    code = "import sys, numpy as np; np.loadtxt(sys.argv[1], delimiter=',', skiprows=1, dtype=np.float32)"
    wall, usage, _, stderr, rc = run_child([sys.executable, "-c", code, str(path)], path.parent)
    if rc != 0:
        raise SystemExit(stderr[-2000:])
    return {"loadtxt_wall_s": wall, "loadtxt_cpu_s": usage.ru_utime + usage.ru_stime,
            "loadtxt_peak_rss_mb": usage.ru_maxrss / 1024}  # fmt: skip


def case_files(case: str, folder: Path, rows: int, small: bool, model: str) -> tuple[str, int, str]:
    """Writes the data; returns ([data] keys, features, layers)."""
    if (folder / {"csv": "data.csv", "npz": "data.npz", "npy": "y.npy"}[case]).exists():
        pass  # --keep from an earlier run: reuse the generated data
    elif case == "csv":
        write_csv(folder / "data.csv", rows, 64)
    elif case == "npz":
        write_npz(folder / "data.npz", rows, 784, compressed=small)  # small: the in-memory reference
    else:
        write_npy(folder, rows, 784)
    if case == "csv":
        return 'target = "label"', 64, LAYER.format(units=10, act="softmax")
    layers = LAYER.format(units=10, act="softmax")
    if model == "mlp":
        layers = LAYER.format(units=256, act="relu") + layers
    if case == "npz":
        return 'x_key = "x"\ntarget = "y"', 784, layers
    return 'targets = "y.npy"', 784, layers


def bench(case: str, rows: int, folder: Path, small: bool = False, model: str = "mlp", batch: int = 128) -> dict:
    keys, features, layers = case_files(case, folder, rows, small, model)
    path = {"csv": "data.csv", "npz": "data.npz", "npy": "x.npy"}[case]
    spec = folder / "spec.toml"
    shutil.rmtree(folder / "run", ignore_errors=True)
    spec.write_text(DENSE_SPEC.format(name=case, path=path, data_keys=keys, features=features, layers=layers,
                                      standardize="true" if case != "csv" else "false",
                                      batch=batch))  # fmt: skip
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    out = run_train(spec)
    if case == "csv":
        out.update(run_loadtxt(folder / "data.csv"))
    out.update({"case": case, "model": model if case != "csv" else "linear", "batch": batch, "rows": rows, "file_mb": size / 2**20, "data_f32_mb": rows * features * 4 / 2**20})
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
    p.add_argument("--small", action="store_true",
                   help="1/50 of the rows; for npz a compressed file, read into memory (the reference)")
    p.add_argument("--model", choices=["mlp", "linear"], default="mlp",
                   help="npz/npy: 784-256-10 (mlp) or 784-10 (linear); csv is always 64-10")
    p.add_argument("--batch", type=int, default=128)
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
        print(json.dumps(bench(args.case, rows, folder, args.small, args.model, args.batch), indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
