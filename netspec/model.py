"""A trained model as the API hands it out: a compiled graph with its parameters, the plan
that runs it, and what it needs to read raw inputs (standardizer, class names, vocabulary).
`netspec.train` and `netspec.load_run` (api.py) make them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .compiler import Compiled
from .errors import DataError, NetspecError
from .executor import ParamStore, Plan
from .spec import Spec
from .training.evaluate import evaluate_arrays


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
