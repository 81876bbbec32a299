"""netspec: declarative neural networks from TOML/JSON specs.

Importing netspec is cheap: it does not import onnx, onnxruntime or rich.
"""

__version__ = "0.1.0"

from .api import Model, TrainResult, compile, load, load_run, train  # noqa: E402

__all__ = ["Model", "TrainResult", "compile", "load", "load_run", "train", "__version__"]
