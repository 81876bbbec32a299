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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .compiler import Compiled, compile_spec
from . import safe_io
from .errors import CheckpointError, DataError, NetspecError
from .executor import ParamStore, Plan
from .spec import Spec, load_spec
from .training.evaluate import evaluate_arrays
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


def spec_dir(spec: Spec) -> Path:
    src = spec.source
    return Path(src.file).parent if src is not None and getattr(src, "file", "") else Path.cwd()


@dataclass
class Model:
    """A compiled graph with trained parameters and what it needs to read raw inputs."""

    spec: Spec
    compiled: Compiled
    store: ParamStore
    standardizer: object | None = None
    class_names: list[str] | None = None
    feature_names: list[str] | None = None  # CSV input columns, in order (None: NPZ/series)
    run_dir: Path | None = None
    base_dir: Path | None = None  # what the spec's relative paths are relative to
    target_scaler: object | None = None  # regression outputs are mapped back through it
    vocabulary: object | None = None  # text inputs: netspec.data.text.Vocabulary
    plan: Plan = field(init=False)

    def __post_init__(self):
        self.plan = Plan(self.compiled.graph, self.store)

    @property
    def graph(self):
        return self.compiled.graph

    @property
    def task(self) -> str:
        return self.spec.train.task

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.store.values

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Raw inputs -> what the network sees (dtype, standardization)."""
        if self.spec.model.input_dtype == "int64":
            return np.asarray(x, dtype=np.int64)
        x = np.asarray(x, dtype=self.store.flat.dtype)
        return self.standardizer.apply(x).astype(x.dtype, copy=False) if self.standardizer is not None else x

    def predict(self, x: np.ndarray, lengths=None, raw: bool = True) -> np.ndarray:
        """Model outputs (probabilities for classification) for raw inputs."""
        xs = x if hasattr(x, "shape") else np.asarray(x)
        check_input_sizes(self.graph, xs)
        prep = self.prepare if raw else (lambda chunk: chunk)  # per chunk: a memory map is never read whole
        parts = [self.plan.predict(prep(xs[i : i + 4096]), None if lengths is None else lengths[i : i + 4096])
                 for i in range(0, len(xs), 4096)]  # fmt: skip
        # one part: the plan's fresh output as it is, unless the model only passes its input on
        single = len(parts) == 1 and not np.may_share_memory(parts[0], xs)
        out = (parts[0] if single else np.concatenate(parts)) if parts else None
        if out is None:
            sizes = {d: xs.shape[i] for i, d in enumerate(self.graph.input_shape) if isinstance(d, str) and i < xs.ndim}
            out = np.zeros((0, *[sizes.get(d, 0) if isinstance(d, str) else d for d in self.graph.output_shape[1:]]),
                           self.store.flat.dtype)  # fmt: skip
        return self.target_scaler.unscale(out) if self.target_scaler is not None else out

    def predict_texts(self, texts: list[str]) -> np.ndarray:
        """Model outputs for raw texts (tokenized with the run's vocabulary)."""
        if self.vocabulary is None:
            raise NetspecError("this model does not read text (its spec has no data.text)")
        ids, lengths = self.vocabulary.encode_batch(texts, self.spec.data, "<texts>")
        return self.predict(ids, lengths)

    def labels(self, outputs: np.ndarray) -> np.ndarray:
        """Class indices from outputs (argmax, or sigmoid >= 0.5)."""
        from .training.metrics import predicted_labels, task_kind

        labels = predicted_labels(outputs, task_kind(self.spec.train.loss))
        return labels[..., 0] if labels.ndim == 2 and labels.shape[-1] == 1 else labels

    def read(self, path: str | Path, require_targets: bool = False, progress=None):
        """Examples from a CSV/NPZ/NPY file (or image files), read as in training (columns, labels,
        standardization). `progress(done, total, what)` is called while images are decoded."""
        from .data.prepare import read_inputs

        return read_inputs(Path(path), self.spec, self.standardizer, self.class_names, require_targets=require_targets,
                           feature_names=self.feature_names, dtype=self.store.flat.dtype.type,
                           vocabulary=self.vocabulary, progress=progress)  # fmt: skip

    def split(self, name: str):
        """One split of the spec's own data, recomputed exactly as in training."""
        from .data.prepare import prepare_splits

        base = self.base_dir if self.base_dir is not None else spec_dir(self.spec)
        splits, _ = prepare_splits(self.spec, base, dtype=self.store.flat.dtype.type, n_outputs=self.graph.output_shape[-1])
        data = getattr(splits, name)
        if data is None or not len(data.x):
            raise NetspecError(f"the {name} split is empty (data.split gives it no examples)")
        return data

    def evaluate(self, data, prepared: bool = True) -> dict:
        """Loss and metrics on a Dataset (already standardized when prepared=True)."""
        if not prepared:
            data = type(data)(self.prepare(data.x), data.y, data.lengths, data.target_lengths)
        names = self.spec.data.target_columns if self.spec.data is not None else None
        return evaluate_arrays(self.plan, self.spec.train, data, target_scaler=self.target_scaler, target_names=names)

    def activations(self, x: np.ndarray, layers: list[str] | None = None, lengths=None) -> dict[str, np.ndarray]:
        """Inference-mode outputs of the named layers (default: every layer) for prepared inputs."""
        from .inspect.activations import activations

        return activations(self.plan, x, layers, lengths)

    def input_gradient(self, x: np.ndarray, unit=0, layer: str | None = None, lengths=None) -> np.ndarray:
        """d(unit of `layer`, default the output)/d(input) per example, in inference mode; `unit`
        is a channel/feature index (a conv channel's mean over positions) or a full index tuple."""
        from .inspect.activations import input_gradient

        return input_gradient(self.plan, x, unit, layer, lengths)


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


def check_input_sizes(graph, x: np.ndarray) -> None:
    """Inputs along symbolic dims must be long enough for every window of the model."""
    if not any(isinstance(d, str) for d in graph.input_shape[1:]):
        return  # only the batch is symbolic (measured: the check cost ~10% of a small predict)
    from .compiler.dims import min_sizes

    least = min_sizes(graph)
    for axis, d in enumerate(graph.input_shape[1:], start=1):
        if isinstance(d, str) and axis < x.ndim and x.shape[axis] < least[d]:
            raise DataError(
                f"inputs of {d} {x.shape[axis]} are too short for this model: its windows need "
                f"{d} >= {least[d]} (pad the inputs, or use smaller kernels, strides or pools)"
            )
