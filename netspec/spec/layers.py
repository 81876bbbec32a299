"""The layer catalog of SPEC_LANGUAGE.md as strict Pydantic models, one class per `type`."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .types import Activation, Fraction, Initializer, NonNegFloat, Padding, PosFloat, PosInt, Size


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class LayerBase(Strict):
    name: str | None = None
    inputs: list[str] | None = None
    trainable: bool = True


class Weighted(LayerBase):
    init: Initializer = "glorot_uniform"  # weights; biases start at 0 (LSTM forget gate at 1)
    l1: NonNegFloat = 0.0
    l2: NonNegFloat = 0.0


class Dense(Weighted):
    """Weights default to glorot_uniform, bias to zeros (as Keras)."""

    type: Literal["dense"]
    units: PosInt
    activation: Activation = "identity"
    use_bias: bool = True


class ActivationLayer(LayerBase):
    type: Literal["activation"]
    function: Activation
    alpha: NonNegFloat = 0.01


class Dropout(LayerBase):
    type: Literal["dropout"]
    rate: Fraction


class GaussianNoise(LayerBase):
    type: Literal["gaussian_noise"]
    stddev: NonNegFloat


class BatchNorm(LayerBase):
    type: Literal["batch_norm"]
    momentum: Fraction = 0.9
    epsilon: PosFloat = 1e-5
    l1: NonNegFloat = 0.0
    l2: NonNegFloat = 0.0


class _Conv(Weighted):
    filters: PosInt
    kernel_size: Size
    strides: Size = 1
    padding: Padding = "valid"
    dilation: Size = 1
    activation: Activation = "identity"
    use_bias: bool = True


class Conv1d(_Conv):
    """Weights default to glorot_uniform, bias to zeros."""

    type: Literal["conv1d"]


class Conv2d(_Conv):
    """Weights default to glorot_uniform, bias to zeros."""

    type: Literal["conv2d"]


class _Pool(LayerBase):
    pool_size: Size
    strides: Size | None = None
    padding: Padding = "valid"


class MaxPool1d(_Pool):
    type: Literal["max_pool1d"]


class MaxPool2d(_Pool):
    type: Literal["max_pool2d"]


class AvgPool1d(_Pool):
    type: Literal["avg_pool1d"]


class AvgPool2d(_Pool):
    type: Literal["avg_pool2d"]


class GlobalAvgPool(LayerBase):
    type: Literal["global_avg_pool"]


class GlobalMaxPool(LayerBase):
    type: Literal["global_max_pool"]


class Flatten(LayerBase):
    type: Literal["flatten"]


class Reshape(LayerBase):
    type: Literal["reshape"]
    shape: Annotated[list[Annotated[int, Field(ge=-1)]], Field(min_length=1)]


class Embedding(Weighted):
    """Weights default to glorot_uniform."""

    type: Literal["embedding"]
    vocab_size: PosInt
    dim: PosInt


class RNN(Weighted):
    """Input and recurrent weights default to glorot_uniform, bias to zeros."""

    type: Literal["rnn"]
    units: PosInt
    activation: Activation = "tanh"
    return_sequences: bool = False


class LSTM(Weighted):
    """Weights default to glorot_uniform; forget-gate bias starts at `forget_bias` (1, as Keras), others at 0."""

    type: Literal["lstm"]
    units: PosInt
    return_sequences: bool = False
    # The forget gate's initial bias: sigmoid(1) = 0.73 keeps 0.73^t of the cell after t steps;
    # recalling something 30+ steps back needs more (4: 0.98 per step).
    forget_bias: NonNegFloat = 1.0


class Add(LayerBase):
    type: Literal["add"]


class Concat(LayerBase):
    type: Literal["concat"]
    axis: int = -1


LAYER_CLASSES = (
    Dense, ActivationLayer, Dropout, GaussianNoise, BatchNorm, Conv1d, Conv2d,
    MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool, GlobalMaxPool,
    Flatten, Reshape, Embedding, RNN, LSTM, Add, Concat,
)  # fmt: skip
LAYER_TYPES = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in LAYER_CLASSES}

Layer = Annotated[Union[LAYER_CLASSES], Field(discriminator="type")]  # noqa: UP007
