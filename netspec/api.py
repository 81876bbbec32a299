"""The Python API: everything the CLI does, as plain functions (the CLI calls these).

    import netspec
    spec = netspec.load("specs/digits_mlp.toml")
    result = netspec.train(spec)                 # or train(spec, splits=...) on arrays
    print(result.metrics["test"])
    model = netspec.load_run(result.run_dir)
    probs = model.predict(x_raw)                 # standardization applied inside
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .compiler import Compiled, compile_spec
from . import safe_io
from .errors import CheckpointError, DataError, NetspecError
from .executor import ParamStore, Plan
from .model import Model, check_input_sizes, spec_dir  # noqa: F401 - the API's names
from .spec import Spec, load_spec
from .training.events import Event
from .training.loop import Trainer, rng_tree
from .training.run_files import RunFiles, check_out_dir, claim_run_dir, latest_run_dir, spec_hash
from .training.checkpoint import check_tensors
from .training.warm_start import warm_start

DTYPES = {"float32": np.float32, "float64": np.float64}


def load(path: str | Path) -> Spec:
    """Load and validate a spec file (raises SpecError with located diagnostics)."""
    return load_spec(path)


def compile(spec: Spec | str | Path, batch: int = 1) -> Compiled:  # noqa: A001 - mirrors the CLI verb
    return compile_spec(spec if isinstance(spec, Spec) else load_spec(spec), batch=batch)


@dataclass
class TrainResult:
    model: Model
    history: list[dict]
    run_dir: Path | None
    metrics: dict  # split -> {loss, metric...}
    stopped_early: bool = False
    best_epoch: int = 0
    load_seconds: float = 0.0  # reading, checking, splitting and fitting standardization
    eval_seconds: float = 0.0  # the final metrics of every split
    peak_rss_mb: float = 0.0  # of this process so far (resource.getrusage)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (0 where `resource` is unavailable)."""
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _model_meta(spec: Spec, splits, epochs: int) -> dict:
    std = splits.standardizer
    return {
        "spec_name": spec.name,
        "spec_hash": spec_hash(spec),
        "task": spec.train.task,
        "class_names": splits.class_names,
        "standardizer": std.to_dict() if std is not None else None,
        "feature_names": splits.feature_names,
        "target_scaler": splits.target_scaler.to_dict() if splits.target_scaler is not None else None,
        "vocabulary": splits.vocabulary.to_dict() if splits.vocabulary is not None else None,
        "epochs": epochs,
    }


def _check_targets(splits, graph, loss: str) -> None:
    """The targets must have the shape the loss compares with the model's output."""
    y = splits.train.y
    out = graph.output_shape[1:]
    want = out[:-1] if loss == "cross_entropy" else out
    got = tuple(y.shape[1:])
    fits = len(got) == len(want) and all(isinstance(w, str) or w == g for w, g in zip(want, got))
    if loss != "cross_entropy" and got == (1,) * len(got) and len(got) == 1 and len(want) == 0:
        fits = True
    if not fits:
        shown = ", ".join(map(str, ("batch", *want)))
        raise DataError(
            f"the targets have shape (N, {', '.join(map(str, got))}) per split but the model's output "
            f"needs ({shown}) for loss {loss!r}: change the last layer's units or the data's target"
            if got else
            f"the targets have one value per example but the loss {loss!r} compares outputs of shape "
            f"({shown}): a flatten or global pooling layer before the last dense layer gives one "
            "output vector per example"
        )


def train(
    spec: Spec | str | Path,
    *,
    out: str | Path | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    resume: bool = False,
    callback: Callable[[Event], None] | None = None,
    splits=None,
    save: bool = True,
    record_gradients: bool = True,
) -> TrainResult:
    """Train from a spec, on its [data] or on `splits` (a netspec.data.Splits built from arrays).
    With save=True (the default) the run folder is `out`, else runs/<name> (or runs/<name>-N).
    record_gradients=False skips gradients.csv (the weights come out the same either way)."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    if seed is not None:
        src = spec.source
        spec = spec.model_copy(update={"seed": seed})
        spec._source = src
    compiled = compile_spec(spec)
    cfg = spec.train
    n_epochs = epochs or cfg.epochs
    dtype = DTYPES[cfg.dtype]
    if splits is None:
        if spec.data is None:
            raise NetspecError(f"{spec.source.file if spec.source else 'spec'}: no [data] section: add one, or pass arrays")
        from .data.prepare import prepare_splits

        t_load = time.perf_counter()
        emit = callback or (lambda e: None)
        progress = lambda done, total, unit: emit(Event("load", data={"done": done, "total": total, "unit": unit}))  # noqa: E731
        splits, note = prepare_splits(spec, spec_dir(spec), dtype=dtype, n_outputs=compiled.graph.output_shape[-1],
                                      progress=progress)  # fmt: skip
        load_seconds = time.perf_counter() - t_load
        if note:
            emit(Event("note", data={"message": note}))
    else:
        load_seconds = 0.0
    _check_targets(splits, compiled.graph, cfg.loss)
    check_input_sizes(compiled.graph, splits.train.x)
    rngs = rng_tree(spec.seed)
    store = ParamStore.create(compiled.graph, dtype, rngs["init"], cfg.l1, cfg.l2)
    if resume and not save:
        raise CheckpointError("resume needs a run folder: call train(..., resume=True) with save=True")
    if cfg.init_from and not resume:  # a resumed run's checkpoint already holds every weight
        report = warm_start(store, Path(cfg.init_from) if Path(cfg.init_from).is_absolute() else spec_dir(spec) / cfg.init_from)
        (callback or (lambda e: None))(Event("init_from", data=report))
    plan = Plan(compiled.graph, store)
    meta = _model_meta(spec, splits, n_epochs)

    files = None
    restart = False
    if save:
        base = Path("runs") / spec.name
        if out:
            folder = Path(out)
            check_out_dir(folder)
        else:
            folder = latest_run_dir(base) if resume else claim_run_dir(base)
        if resume and folder is None:
            raise CheckpointError(f"no earlier run of {spec.name!r} under runs/ to resume; start without --resume")
        if not resume and (folder / "spec.json").exists():
            raise CheckpointError(
                f"{folder} already holds a run: continue it with --resume, or choose another --out "
                "(a new run never overwrites an old one)"
            )
        files = RunFiles(folder, spec, meta)
        # A run stopped before its first checkpoint (killed, diverged, disk full in epoch 1)
        # has nothing to resume: --resume starts it again in its own folder.
        restart = resume and not files.has_checkpoint() and (folder / "spec.json").exists()
        if restart and not files.same_spec():
            raise CheckpointError(f"{folder}: the spec changed since this run started; it has no checkpoint "
                                  "to resume: start without --resume")  # fmt: skip
    augment = None
    if spec.data is not None and spec.data.augment is not None:
        from .data.augment import make_augment

        augment = make_augment(spec.data.augment)
    trainer = Trainer(plan, cfg, seed=spec.seed, epochs=n_epochs, task=cfg.task, callback=callback, files=files,
                      rngs=rngs, target_scaler=splits.target_scaler, augment=augment,
                      record_gradients=record_gradients)  # fmt: skip
    if resume and not restart:
        arrays, ck_meta, best = files.load_resume()
        check_tensors(files.folder / "last.safetensors", arrays, store.values)
        if best is not None:
            check_tensors(files.folder / "best.safetensors", best, store.values)
        trainer.restore(arrays, ck_meta, best)
        if epochs is None:
            trainer.epochs = ck_meta.get("epochs", n_epochs)
        files.model_meta["epochs"] = trainer.epochs
    elif files is not None:
        files.start(spec_dir(spec), restart=restart)
    if files is not None and splits.vocabulary is not None:  # what a server needs to tokenize
        from .training.checkpoint import write_json

        write_json(files.folder / "vocabulary.json", splits.vocabulary.to_dict())
    if callback:
        callback(Event("start", data={
            "run_dir": str(files.folder) if files else None, "params": compiled.cost.params,
            "train": len(splits.train.x), "val": len(splits.val.x) if splits.val is not None else 0,
            "test": len(splits.test.x) if splits.test is not None else 0, "epochs": trainer.epochs,
            "resumed_from": trainer.start_epoch,
        }))  # fmt: skip
    outcome = trainer.fit(splits.train, splits.val)
    model = Model(spec, compiled, store, splits.standardizer, splits.class_names, splits.feature_names,
                  files.folder if files else None, spec_dir(spec), splits.target_scaler, splits.vocabulary)
    metrics = {}
    t_eval = time.perf_counter()
    for name in ("train", "val", "test"):
        data = getattr(splits, name)
        if data is not None and len(data.x):
            metrics[name] = model.evaluate(data)
    eval_seconds = time.perf_counter() - t_eval
    if files is not None:
        files.save_model(store, {"best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run})
        files.save_result({"metrics": metrics, "best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run,
                           "stopped_early": outcome.stopped_early, "spec_hash": meta["spec_hash"]})  # fmt: skip
    if callback:
        callback(Event("done", data={"metrics": metrics, "run_dir": str(files.folder) if files else None}))
    return TrainResult(model, outcome.history, files.folder if files else None, metrics, outcome.stopped_early,
                       outcome.best_epoch, load_seconds, eval_seconds, peak_rss_mb())  # fmt: skip


def load_run(path: str | Path) -> Model:
    """Load a trained model from a run folder (or a spec: its latest run under runs/)."""
    from .data import Standardizer
    from .spec.load import parse_text, validate_data
    from .training.checkpoint import check_class_names, load_checkpoint

    path = Path(path)
    if path.is_file() and path.suffix in (".toml", ".json") and path.name != "spec.json":
        spec = load_spec(path)
        found = latest_run_dir(Path("runs") / spec.name)
        if found is None:
            raise CheckpointError(f"no run of {spec.name!r} under runs/: train it first (netspec train {path})")
        path = found
    spec_file, weights = path / "spec.json", path / "model.safetensors"
    if not path.exists():
        raise CheckpointError(f"{path}: no such run folder (train writes runs/<name>)")
    if not spec_file.exists():
        raise CheckpointError(f"{path}: not a run folder (no spec.json)")
    if not weights.exists():
        if (path / "last.safetensors").exists():
            raise CheckpointError(f"{path}: training did not finish (no model.safetensors); if it was "
                                  f"interrupted, `netspec train SPEC --resume --out {path}` completes it")
        raise CheckpointError(f"{path}: training stopped before its first epoch ended: train again")
    text = safe_io.read_text(spec_file, limit=safe_io.JSON_LIMIT, what="spec.json",
                             error=lambda m: CheckpointError(f"{spec_file}: {m}"))  # fmt: skip
    data, smap = parse_text(text, str(spec_file), "json")
    spec = validate_data(data, smap)
    compiled = compile_spec(spec)
    arrays, meta = load_checkpoint(weights)
    if meta.get("spec_hash") is not None and meta["spec_hash"] != spec_hash(spec):
        raise CheckpointError(f"{spec_file}: was edited after training (its spec hash {spec_hash(spec)} differs "
                              f"from {meta['spec_hash']} recorded in {weights.name}); restore it, or train again")  # fmt: skip
    store = ParamStore.create(compiled.graph, DTYPES[spec.train.dtype], None)
    check_tensors(weights, arrays, store.values)
    store.load({k: arrays[k] for k in store.values})
    from .data.target_scaling import TargetScaler

    std = Standardizer.from_dict(meta["standardizer"]) if meta.get("standardizer") else None
    if std is not None:
        check_standardizer(std, spec, weights)
    check_class_names(meta.get("class_names"), spec.train.loss, compiled.graph.output_shape[-1], str(weights))
    tscale = TargetScaler.from_dict(meta["target_scaler"]) if meta.get("target_scaler") else None
    vocab = None
    if meta.get("vocabulary"):
        from .data.text import Vocabulary

        vocab = Vocabulary.from_dict(meta["vocabulary"])
    return Model(spec, compiled, store, std, meta.get("class_names"), meta.get("feature_names"), path, path,
                 tscale, vocab)  # fmt: skip


def check_standardizer(std, spec: Spec, where: Path) -> None:
    """The saved mean/std have the shape training fitted: one value per input element, size 1
    along named axes (every axis for a series)."""
    series = spec.data is not None and spec.data.series is not None
    want = [1 if series or isinstance(d, str) else d for d in spec.model.input_shape]
    if spec.data is not None and spec.data.is_image_folder:  # per channel
        want = [spec.model.input_shape[0]] + [1] * (len(spec.model.input_shape) - 1)
    if list(std.mean.shape) != want:
        raise CheckpointError(f"{where}: standardizer has shape {list(std.mean.shape)}, but inputs of shape "
                              f"{list(spec.model.input_shape)} need {want}")  # fmt: skip
