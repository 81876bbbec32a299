"""netspec: declarative neural networks from TOML/JSON specs.

Importing netspec is cheap: it does not import onnx, onnxruntime or rich.
"""

__version__ = "0.1.0"
