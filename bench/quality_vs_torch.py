"""Model quality: does netspec reach what PyTorch reaches with the same architecture and recipe?

For each spec and seed, netspec trains the spec as written, and PyTorch trains the same graph
(translated node by node from `netspec.compile(spec).graph` by bench/torch_graph.py) on the SAME
arrays: `netspec.data.prepare.prepare_splits` for that seed (shuffled split, standardization
fitted on the train rows, target scaling when the spec asks for it: both train on the scaled
targets and are scored in the data's units) is computed once and given to both. PyTorch gets the same initializer distributions
(independent draws), optimizer and its settings, learning-rate schedule, batch size, epochs,
shuffling, penalties, gradient clipping and early-stopping rule (monitor, patience, min_delta,
restore best); both are scored on the test split by the same metric functions. Only the random
draws (initial weights, batch order, dropout masks) differ, which is what the seeds average over.

    python bench/quality_vs_torch.py                        # all example specs, 5 seeds
    python bench/quality_vs_torch.py --markdown             # the README table
    python bench/quality_vs_torch.py --specs iris_mlp --seeds 10 --json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch_graph import TorchGraph

import netspec
from netspec.api import spec_dir
from netspec.data.prepare import prepare_splits
from netspec.training.early_stopping import EarlyStopper
from netspec.training.metrics import METRICS, higher_is_better, task_kind
from netspec.training.schedules import learning_rate

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
DEFAULT_SPECS = ["iris_mlp", "breast_cancer", "digits_mlp", "digits_cnn", "digits_residual",
                 "sunspots_lstm", "nile_lstm", "sine_regression"]  # fmt: skip
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def spec_path(name: str) -> Path:
    """A spec name from specs/ (`iris_mlp`) or a path to a spec file."""
    p = Path(name)
    return p if p.suffix in (".toml", ".json") else SPECS_DIR / f"{name}.toml"


def seeded(spec, seed: int):
    """The spec with `seed` (as netspec.train(spec, seed=...) does), keeping its source file."""
    src = spec.source
    out = spec.model_copy(update={"seed": seed})
    out._source = src
    return out


def spec_splits(spec):
    """The standardized train/val/test splits netspec itself would train on for spec.seed."""
    graph = netspec.compile(spec).graph
    dtype = np.float64 if spec.train.dtype == "float64" else np.float32
    return prepare_splits(spec, spec_dir(spec), dtype=dtype, n_outputs=graph.output_shape[-1])[0]


# -- PyTorch side --------------------------------------------------------------------------------
def _optimizer(cfg, params):
    if cfg.type == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.learning_rate, momentum=cfg.momentum, nesterov=cfg.nesterov
        )
    if cfg.type == "adam":
        return torch.optim.Adam(
            params, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), eps=cfg.epsilon
        )
    if cfg.type == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=cfg.learning_rate, alpha=cfg.rho, eps=cfg.epsilon, momentum=cfg.momentum
        )
    raise NotImplementedError(f"optimizer {cfg.type!r}")


def _loss(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean data loss of what the model returns (logits for the fused classification losses)."""
    if name == "cross_entropy":
        return F.cross_entropy(z.movedim(-1, 1) if z.ndim > 2 else z, y)
    y = y.reshape(z.shape)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y)
    return F.mse_loss(z, y) if name == "mse" else F.l1_loss(z, y)


def _tensors(ds, dtype, target_scaler=None):
    """x and the targets the loss compares with (scaled when netspec scales them)."""
    x = torch.from_numpy(np.asarray(ds.x))
    x = x if x.dtype == torch.int64 else x.to(dtype)
    y = torch.from_numpy(ds.y if target_scaler is None else target_scaler.scale(ds.y))
    return x, (y if y.dtype == torch.int64 else y.to(dtype))


@torch.no_grad()
def torch_evaluate(model: TorchGraph, cfg, ds, dtype, prefix: str = "", loss: bool = True,
                   target_scaler=None) -> dict:  # fmt: skip
    """{prefix+"loss", prefix+metric...} in inference mode, scored like netspec's evaluate
    (the loss on scaled targets, metrics in the data's units)."""
    model.eval()
    x, y = _tensors(ds, dtype, target_scaler)
    z = model(x)
    out = {prefix + "loss": float(_loss(cfg.loss, z, y))} if loss else {}
    outputs = model.outputs(z).numpy()
    if target_scaler is not None:
        outputs = target_scaler.unscale(outputs)
    for name in cfg.resolved_metrics:
        out[prefix + name] = float(METRICS[name](ds.y, outputs, task_kind(cfg.loss)))
    return out


def train_torch(spec, splits, seed: int, init: str = "spec") -> dict:
    """Train the spec's graph in PyTorch on `splits`; test metrics, epochs run, best epoch."""
    if any(
        d is not None and d.lengths is not None for d in (splits.train, splits.val, splits.test)
    ):
        raise NotImplementedError("padded sequences (lengths) are not translated")
    t0 = time.perf_counter()
    cfg = spec.train
    dtype = TORCH_DTYPES[cfg.dtype]
    torch.manual_seed(seed)  # dropout/noise masks (and torch's default init)
    gen = torch.Generator().manual_seed(seed)  # spec init draws and batch order
    model = TorchGraph(netspec.compile(spec).graph).to(dtype)
    if init == "spec":
        model.init_like_spec(gen)
    opt = _optimizer(cfg.optimizer, [p for p in model.parameters() if p.requires_grad])
    stopper = EarlyStopper(cfg.early_stopping) if cfg.early_stopping else None
    ts = splits.target_scaler  # same preprocessing as netspec: scaled targets, unscaled metrics
    x, y = _tensors(splits.train, dtype, ts)
    n, bs = len(x), cfg.batch_size
    has_val = splits.val is not None and len(splits.val)
    best_state, best_epoch, epochs_run = None, 0, 0
    for epoch in range(1, cfg.epochs + 1):
        lr = learning_rate(cfg.optimizer.learning_rate, cfg.schedule, epoch - 1, cfg.epochs)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        order = torch.randperm(n, generator=gen) if cfg.shuffle else torch.arange(n)
        total = 0.0
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            opt.zero_grad(set_to_none=True)
            data_loss = _loss(cfg.loss, model(x[idx]), y[idx])
            (data_loss + model.penalty(cfg.l1, cfg.l2)).backward()
            if cfg.clip_value is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            total += data_loss.item() * len(idx)
        epochs_run = epoch
        if stopper is None:
            continue
        row = {"loss": total / n}  # as netspec: the epoch's mean training loss, then metrics
        if has_val:
            row.update(torch_evaluate(model, cfg, splits.val, dtype, prefix="val_", target_scaler=ts))
        monitor = stopper.cfg.monitor
        if monitor not in row:
            monitor = monitor.removeprefix("val_")
            if monitor not in row:
                row.update(torch_evaluate(model, cfg, splits.train, dtype, loss=False, target_scaler=ts))
        improved, stop = stopper.update(row[monitor], epoch)
        if improved and stopper.cfg.restore_best:
            best_state = copy.deepcopy(model.state_dict())
        if stop:
            break
    if stopper is not None:
        best_epoch = stopper.state.best_epoch
        if stopper.cfg.restore_best and best_state is not None:
            model.load_state_dict(best_state)
    else:
        best_epoch = epochs_run
    test = torch_evaluate(model, cfg, splits.test, dtype, target_scaler=ts)
    return {
        "test": test,
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "seconds": time.perf_counter() - t0,
    }


def train_netspec(spec, splits) -> dict:
    t0 = time.perf_counter()
    r = netspec.train(spec, splits=splits, save=False)
    return {"test": r.metrics["test"], "epochs_run": len(r.history), "best_epoch": r.best_epoch,
            "seconds": time.perf_counter() - t0}  # fmt: skip


# -- the comparison ------------------------------------------------------------------------------
def _stats(values: list[float]) -> dict:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "min": min(values), "max": max(values),
            "values": values}  # fmt: skip


def compare(name: str, seeds, init: str = "spec", metric: str | None = None, scale_targets: bool = True) -> dict:
    """Train `name` with netspec and PyTorch for each seed; per-library test-metric stats.
    scale_targets=False trains both on unscaled regression targets (the behaviour before
    target scaling), to show what scaling is worth."""
    base = netspec.load(spec_path(name))
    metric = metric or base.train.resolved_metrics[0]
    runs: dict[str, list[dict]] = {"netspec": [], "pytorch": []}
    for s in seeds:
        spec = seeded(base, s)
        splits = spec_splits(spec)
        if not scale_targets:
            splits = dataclasses.replace(splits, target_scaler=None)
        runs["netspec"].append(train_netspec(spec, splits))
        runs["pytorch"].append(train_torch(spec, splits, s, init))
    row = {"spec": name, "metric": metric, "higher_is_better": higher_is_better(metric),
           "seeds": list(seeds), "test_size": len(splits.test)}  # fmt: skip
    for lib, rs in runs.items():
        row[lib] = _stats([r["test"][metric] for r in rs])
        row[lib]["epochs_run"] = [r["epochs_run"] for r in rs]
        row[lib]["best_epoch"] = [r["best_epoch"] for r in rs]
        row[lib]["seconds"] = sum(r["seconds"] for r in rs)
        row[lib]["all_test_metrics"] = [r["test"] for r in rs]
    row["difference"] = row["netspec"]["mean"] - row["pytorch"]["mean"]
    return row


def _decimals(metric: str, typical: float) -> int:
    """3 decimals for scores in [0, 1]; otherwise 4 significant digits of the row's mean."""
    if metric in ("accuracy", "precision", "recall", "f1", "r2"):
        return 3
    return max(0, 3 - math.floor(math.log10(abs(typical)))) if typical else 4


def _cell(s: dict, d: int) -> str:
    return f"{s['mean']:.{d}f} ± {s['std']:.{d}f} [{s['min']:.{d}f}, {s['max']:.{d}f}]"


def _row_cells(r: dict) -> list[str]:
    m = r["metric"]
    d = _decimals(m, r["netspec"]["mean"])
    arrow = "↑" if r["higher_is_better"] else "↓"
    ns_epochs, pt_epochs = (
        statistics.fmean(r[lib]["epochs_run"]) for lib in ("netspec", "pytorch")
    )
    epochs = f"{ns_epochs:.0f} / {pt_epochs:.0f}"
    return [
        r["spec"],
        f"{m} {arrow}",
        _cell(r["netspec"], d),
        _cell(r["pytorch"], d),
        f"{r['difference']:+.{d}f}",
        epochs,
    ]


HEADER = ["spec", "test metric", "netspec mean ± std [min, max]", "PyTorch mean ± std [min, max]",
          "netspec − PyTorch", "epochs run (netspec / PyTorch)"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--specs", nargs="*", default=DEFAULT_SPECS, help="names under specs/ or spec files"
    )
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and torch intra-op threads")
    ap.add_argument(
        "--torch-init",
        choices=["spec", "default"],
        default="spec",
        help="PyTorch weights from the spec's initializers (default) or torch's own defaults",
    )
    ap.add_argument("--unscaled-targets", action="store_true",
                    help="train both libraries on unscaled regression targets (ignore target scaling)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        results = [compare(name, range(args.seeds), args.torch_init, scale_targets=not args.unscaled_targets) for name in args.specs]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    rows = [_row_cells(r) for r in results]
    if args.markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + " --- |" * len(HEADER))
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(c) for c in col) for col in zip(HEADER, *rows)]
        for cells in [HEADER, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    took = time.perf_counter() - t0
    print(f"\n{args.seeds} seeds, {args.threads} thread(s), PyTorch init: {args.torch_init}, "
          f"std over seeds (n-1), {took:.0f} s total", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
