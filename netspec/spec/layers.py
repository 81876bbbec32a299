"""The layer catalog of SPEC_LANGUAGE.md as strict Pydantic models, one class per `type`."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .types import Activation, Dim, Fraction, Initializer, NonNegFloat, Padding, PosFloat, PosInt, Size


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


class _Recurrent(Weighted):
    units: PosInt
    return_sequences: bool = False
    # Run a second cell over each sample reversed within its real length; outputs concatenated
    # (forward then backward), as Keras' Bidirectional and PyTorch's bidirectional=True.
    bidirectional: bool = False
    # The name of an earlier recurrent layer of the same type and units whose final state
    # starts this one (encoder -> decoder).
    initial_state: str | None = None


class RNN(_Recurrent):
    """Input and recurrent weights default to glorot_uniform, bias to zeros."""

    type: Literal["rnn"]
    activation: Activation = "tanh"


class LSTM(_Recurrent):
    """Weights default to glorot_uniform; forget-gate bias starts at `forget_bias` (1, as Keras), others at 0."""

    type: Literal["lstm"]
    # The forget gate's initial bias: sigmoid(1) = 0.73 keeps 0.73^t of the cell after t steps;
    # recalling something 30+ steps back needs more (4: 0.98 per step).
    forget_bias: NonNegFloat = 1.0


class GRU(_Recurrent):
    """The PyTorch / ONNX (linear_before_reset = 1) GRU; weights glorot_uniform, biases 0."""

    type: Literal["gru"]


class Repeat(LayerBase):
    """Keras RepeatVector: (batch, F) -> (batch, length, F). `length` is a number, or the name
    of a symbolic axis of model.input_shape (the repeat then takes that axis' size at run time)."""

    type: Literal["repeat"]
    length: Dim


class Add(LayerBase):
    type: Literal["add"]


class Concat(LayerBase):
    type: Literal["concat"]
    axis: int = -1


LAYER_CLASSES = (
    Dense, ActivationLayer, Dropout, GaussianNoise, BatchNorm, Conv1d, Conv2d,
    MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool, GlobalMaxPool,
    Flatten, Reshape, Embedding, RNN, LSTM, GRU, Repeat, Add, Concat,
)  # fmt: skip
LAYER_TYPES = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in LAYER_CLASSES}

Layer = Annotated[Union[LAYER_CLASSES], Field(discriminator="type")]  # noqa: UP007
