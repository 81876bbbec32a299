"""The whole spec (SPEC_LANGUAGE.md) as strict Pydantic models."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .layers import Layer, Strict
from .types import Columns, Dim, Fraction, NonNegFloat, PosFloat, PosInt

LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae")
METRICS = ("accuracy", "precision", "recall", "f1", "mse", "mae", "rmse", "r2")
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")


class Split(Strict):
    train: Annotated[float, Field(gt=0, le=1)] = 0.8
    val: Annotated[float, Field(ge=0, lt=1)] = 0.1
    test: Annotated[float, Field(ge=0, lt=1)] = 0.1

    @model_validator(mode="after")
    def _sums_to_one(self):
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"the split fractions must add up to 1, got train {self.train:g} + val {self.val:g} + "
                f"test {self.test:g} = {total:g}; adjust them (a key left out takes its default: "
                "train 0.8, val 0.1, test 0.1)"
            )
        return self


class Augment(Strict):
    """Random training-time changes of image batches (train split only, seeded)."""

    flip_horizontal: bool = False
    flip_vertical: bool = False
    shift: Annotated[int, Field(ge=0, le=16)] = 0  # pixels, each way; the gap is filled with 0


class Data(Strict):
    path: str
    # One column (or NPZ key) name, or several: regression over several columns, or
    # multi-label classification (one sigmoid per column, binary_cross_entropy).
    target: Columns | None = None
    features: list[str] | None = None
    x_key: str = "x"
    # A .npy of targets (one per example) when `path` is a .npy of inputs; relative to the spec.
    targets: str | None = None
    lengths_key: str | None = None
    # NPZ key of per-sample lengths of a target sequence whose time axis is not the input's
    # (a decoder's output): padded target steps are left out of the loss and metrics.
    target_lengths_key: str | None = None
    reshape: list[PosInt] | None = None
    # Classification: the class names in output order (default: the labels found in the file,
    # sorted). Pins the order when a class may be missing from a file.
    classes: Annotated[list[str | int], Field(min_length=2)] | None = None
    standardize: bool = False
    standardize_target: bool = False  # regression: scale each target column, map predictions back
    resize: bool = True  # image folders: resize (bilinear) to input_shape, or error on other sizes
    augment: Augment | None = None
    text: str | None = None  # CSV column of raw text, tokenized into int64 ids
    tokenizer: Literal["word", "char"] = "word"
    vocab_size: Annotated[int, Field(ge=3)] | None = None  # ids incl. padding 0 and unknown 1
    min_count: PosInt = 1
    max_length: PosInt | None = None  # a longer text is an error
    split: Split = Split()
    ordered_split: bool = False
    series: str | None = None
    window: PosInt | None = None
    horizon: PosInt = 1

    @model_validator(mode="after")
    def _target_or_series(self):
        if self.classes is not None:
            names = [str(c) for c in self.classes]
            dup = next((n for n in names if names.count(n) > 1), None)
            if dup is not None:
                raise ValueError(f"data.classes lists {dup!r} twice; each class name once")
        if isinstance(self.target, list):
            dup = next((n for n in self.target if self.target.count(n) > 1), None)
            if dup is not None:
                raise ValueError(f"data.target lists {dup!r} twice; each column once")
        # Keys given away from their defaults (a run folder's spec.json spells every default out).
        given = {k for k in self.model_fields_set if getattr(self, k) != type(self).model_fields[k].default}
        text_keys = [k for k in ("tokenizer", "vocab_size", "min_count", "max_length") if k in given]
        if text_keys and self.text is None:
            raise ValueError(f"`{text_keys[0]}` applies to a text column: add `text = \"COLUMN\"` or remove it")
        image_keys = [k for k in ("resize", "augment") if k in given]
        if image_keys and not self.is_image_folder:
            raise ValueError(f"`{image_keys[0]}` applies to an image folder (a path ending in \"/\"): remove it")
        if self.standardize_target and self.series is not None:
            raise ValueError("a series scales its targets with `standardize = true`: remove `standardize_target`")
        if self.is_image_folder and self.target is not None:
            raise ValueError("an image folder gives its labels by sub-folder (one per class): remove `target`")
        if self.text is not None and self.series is not None:
            raise ValueError("give either `text` or `series`, not both")
        if self.series is not None:
            if self.target is not None:
                raise ValueError("give either `target` or `series`, not both")
            if self.window is None:
                raise ValueError("`series` needs `window` (the number of steps per example)")
        elif self.targets is not None:
            if not self.path.endswith(".npy") or not self.targets.endswith(".npy"):
                raise ValueError("`targets` pairs a .npy of inputs (`path`) with a .npy of targets")
            if self.target is not None:
                raise ValueError("give either `target` (a column or key) or `targets` (a .npy file), not both")
        elif self.path.endswith(".npy"):
            raise ValueError('a .npy `path` holds inputs only: name the .npy of targets in `targets = "y.npy"`')
        elif self.target is None and not self.path.endswith(".npz") and not self.is_image_folder:
            raise ValueError("missing `target`: name the CSV column to predict (or use `series`)")
        return self

    @property
    def target_columns(self) -> list[str]:
        """The target column names as a list (empty without a target)."""
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)

    @property
    def is_image_folder(self) -> bool:
        """`path` names a folder of class sub-folders (it ends with "/", or has no extension)."""
        name = self.path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        return self.path.endswith(("/", "\\")) or "." not in name.strip(".")


class Model(Strict):
    input_shape: Annotated[list[Dim], Field(min_length=1)]
    input_dtype: Literal["float32", "int64"] = "float32"
    layers: Annotated[list[Layer], Field(min_length=1)]


class SGD(Strict):
    type: Literal["sgd"]
    learning_rate: PosFloat = 0.01
    momentum: Fraction = 0.0
    nesterov: bool = False


class Adam(Strict):
    type: Literal["adam"]
    learning_rate: PosFloat = 0.001
    beta1: Fraction = 0.9
    beta2: Fraction = 0.999
    epsilon: PosFloat = 1e-8


class RMSprop(Strict):
    type: Literal["rmsprop"]
    learning_rate: PosFloat = 0.001
    rho: Fraction = 0.9
    momentum: Fraction = 0.0
    epsilon: PosFloat = 1e-8


Optimizer = Annotated[Union[SGD, Adam, RMSprop], Field(discriminator="type")]  # noqa: UP007


class Constant(Strict):
    type: Literal["constant"]


class StepSchedule(Strict):
    type: Literal["step"]
    step_size: PosInt
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1


class Exponential(Strict):
    type: Literal["exponential"]
    gamma: Annotated[float, Field(gt=0, le=1)]


class Cosine(Strict):
    type: Literal["cosine"]
    t_max: PosInt | None = None  # epochs; default: train.epochs
    min_lr: NonNegFloat = 0.0


Schedule = Annotated[Union[Constant, StepSchedule, Exponential, Cosine], Field(discriminator="type")]  # noqa: UP007


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    patience: PosInt = 5
    min_delta: NonNegFloat = 0.0
    restore_best: bool = True
    mode: Literal["auto", "min", "max"] = "auto"


class Train(Strict):
    epochs: PosInt
    loss: Literal["cross_entropy", "binary_cross_entropy", "mse", "mae"]
    batch_size: PosInt = 32
    metrics: list[Literal["accuracy", "precision", "recall", "f1", "mse", "mae", "rmse", "r2"]] | None = None
    optimizer: Optimizer = SGD(type="sgd")
    schedule: Schedule = Constant(type="constant")
    l1: NonNegFloat = 0.0
    l2: NonNegFloat = 0.0
    clip_norm: PosFloat | None = None
    clip_value: PosFloat | None = None
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None
    init_from: str | None = None
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("init_from")
    @classmethod
    def _init_from_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty: name a checkpoint (.safetensors) or a run folder, or remove the key")
        return value

    @property
    def task(self) -> str:
        return "classification" if self.loss in CLASSIFICATION_LOSSES else "regression"

    @property
    def resolved_metrics(self) -> list[str]:
        if self.metrics is not None:
            return list(self.metrics)
        return ["accuracy"] if self.task == "classification" else ["rmse"]


class Expect(Strict):
    params: Annotated[int, Field(ge=0)] | None = None
    trainable_params: Annotated[int, Field(ge=0)] | None = None
    output_shape: list[Dim | Literal["batch"]] | None = None
    max_flops: Annotated[int, Field(ge=0)] | None = None


class Spec(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    data: Data | None = None
    model: Model
    train: Train
    expect: Expect | None = None

    # Where the spec came from: the file and a map of key paths to line/column.
    _source: object = PrivateAttr(default=None)

    @property
    def source(self):
        return self._source
