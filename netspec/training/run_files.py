"""The run folder (DESIGN.md section 3):

    spec.json            the resolved spec (every default filled in)
    metrics.csv          one row per epoch
    gradients.csv        per epoch: mean global gradient norm (before clipping) and each
                         layer's weight-gradient norm
    last.safetensors     weights + optimizer state after the latest epoch (+ last.json sidecar:
                         epoch, step, RNG states, history, early-stopping state, spec hash)
    best.safetensors     weights at the best monitored epoch (+ best.json)
    model.safetensors    the final model (+ model.json: class names, standardization, spec hash)
    result.json          final metrics per split

Every file is written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from ..errors import CheckpointError, NetspecError
from ..safe_io import JSON_LIMIT, TMP_MARK, atomic_write, read_text
from .checkpoint import load_checkpoint, save_checkpoint, write_json


def spec_hash(spec) -> str:
    """Identifies what a run computes: paths, description and epochs (which --epochs may
    override) are left out, so a run folder's own copy of the spec hashes the same."""
    text = spec.model_dump_json(exclude={"description": True, "train": {"epochs", "init_from"}, "data": {"path", "targets"}})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


RUN_FILES = ("spec.json", "metrics.csv", "result.json", "last.safetensors", "last.json",
             "best.safetensors", "best.json", "model.safetensors", "model.json")  # fmt: skip


# netspec's own files that may precede a run in its folder (`netspec sweep` writes trial.json first)
OWN_FILES = ("trial.json",)


def claim_run_dir(base: Path) -> Path:
    """Create `base`, or `base-2`, `base-3`, ... : the first that did not exist. mkdir is atomic,
    so two runs started at once get two folders, and a new run never overwrites an old one."""
    base.parent.mkdir(parents=True, exist_ok=True)
    k = 1
    while True:
        folder = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            k += 1


def check_out_dir(folder: Path) -> None:
    """`--out` may name a new folder, an empty one, or a run folder; never a folder of other files."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: is a file, not a folder; --out takes a run folder")
    if (folder / "spec.json").exists():
        return
    others = [p.name for p in folder.iterdir() if TMP_MARK not in p.name and p.name not in OWN_FILES]
    if others:
        shown = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
        raise CheckpointError(f"{folder}: is not empty ({shown}) and is not a run folder; a run never "
                              "writes over other files: choose a new or empty folder for --out")  # fmt: skip


def run_file_paths(folder: Path) -> list[Path]:
    """The files a run folder holds (what export/predict must never write over)."""
    return [Path(folder) / name for name in RUN_FILES]


def _run_name(folder: Path) -> str | None:
    try:
        doc = json.loads(read_text(folder / "spec.json", limit=JSON_LIMIT, what="spec.json"))
        return doc.get("name") if isinstance(doc, dict) else None
    except (OSError, ValueError, NetspecError):
        return None


def latest_run_dir(base: Path) -> Path | None:
    """The most recent of `base`, `base-2`, ... (for --resume without --out)."""
    found = [p for p in base.parent.glob(f"{base.name}*") if p.is_dir() and (p / "spec.json").exists()]
    found = [p for p in found if p == base or p.name.removeprefix(base.name + "-").isdigit()]
    # "m-2" may be a run of spec "m" or the run of a spec named "m-2": ask each run's own spec
    found = [p for p in found if _run_name(p) == base.name]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _rebase(path: str, old_dir: Path, new_dir: Path) -> str:
    if Path(path).is_absolute():
        return path
    return os.path.relpath(Path(old_dir).resolve() / path, Path(new_dir).resolve())


class RunFiles:
    def __init__(self, folder: Path, spec, model_meta: dict):
        self.folder = Path(folder)
        self.spec = spec
        self.model_meta = model_meta  # class names, standardizer, task, spec hash, ...

    def start(self, spec_dir: Path, restart: bool = False) -> None:
        """Write the resolved spec; its relative paths are rewritten to stay valid from here.
        Claims the folder: if another run wrote its spec.json first, this one stops. `restart`:
        a run that never finished an epoch starts again in its own folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = json.loads(self.spec.model_dump_json())
        doc["train"]["epochs"] = self.model_meta.get("epochs", doc["train"]["epochs"])  # --epochs
        if doc.get("data"):
            doc["data"]["path"] = _rebase(doc["data"]["path"], spec_dir, self.folder)
            if doc["data"].get("targets"):
                doc["data"]["targets"] = _rebase(doc["data"]["targets"], spec_dir, self.folder)
        if doc["train"].get("init_from"):
            doc["train"]["init_from"] = _rebase(doc["train"]["init_from"], spec_dir, self.folder)
        text = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
        if restart:
            for name in RUN_FILES[1:]:
                (self.folder / name).unlink(missing_ok=True)
            atomic_write(self.folder / "spec.json", text)
            return
        try:
            atomic_write(self.folder / "spec.json", text, exclusive=True)
        except FileExistsError:
            raise CheckpointError(f"{self.folder} already holds a run (another `netspec train` claimed it "
                                  "first): continue it with --resume, or choose another --out") from None

    def has_checkpoint(self) -> bool:
        return (self.folder / "last.safetensors").exists()

    def same_spec(self) -> bool:
        """The folder's spec.json describes the run we are about to start (for a restart)."""
        from ..spec.load import parse_text, validate_data

        try:
            spec_file = self.folder / "spec.json"
            data, smap = parse_text(read_text(spec_file, limit=JSON_LIMIT, what="spec.json"), str(spec_file), "json")
            return spec_hash(validate_data(data, smap)) == self.model_meta.get("spec_hash")
        except (OSError, UnicodeDecodeError, NetspecError):
            return False

    def save_epoch(self, trainer, epoch: int, improved: bool) -> None:
        meta = {**self.model_meta, **trainer.state_meta(epoch)}
        arrays = trainer.state_arrays()
        if improved:  # best first: a crash between the two leaves a consistent pair
            save_checkpoint(self.folder / "best.safetensors", trainer.store.state_dict(), {**self.model_meta, "epoch": epoch})
        save_checkpoint(self.folder / "last.safetensors", arrays, meta)
        self.write_metrics(trainer.history)
        if trainer.grad_norms is not None:
            self.write_metrics(trainer.grad_norms.history, "gradients.csv")

    def write_metrics(self, history: list[dict], name: str = "metrics.csv") -> None:
        if not history:
            return
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write(self.folder / name, buf.getvalue().encode())

    def save_model(self, store, extra: dict) -> None:
        save_checkpoint(self.folder / "model.safetensors", store.state_dict(), {**self.model_meta, **extra})

    def save_result(self, result: dict) -> None:
        write_json(self.folder / "result.json", result)

    def load_resume(self):
        last = self.folder / "last.safetensors"
        if not last.exists():
            raise CheckpointError(f"{self.folder}: nothing to resume (no last.safetensors); start without --resume")
        arrays, meta = load_checkpoint(last)
        if meta.get("spec_hash") != self.model_meta.get("spec_hash"):
            raise CheckpointError(
                f"{last}: the spec changed since this run started (spec hash {meta.get('spec_hash')} "
                f"vs {self.model_meta.get('spec_hash')}); resume needs the same spec (and the same --seed, "
                "if the run was started with one)"
            )
        best = None
        if (self.folder / "best.safetensors").exists():
            best, _ = load_checkpoint(self.folder / "best.safetensors")
        return arrays, meta, best
