"""IR -> ONNX export: one emitter per op, validation and a parity check against the executor.

Importing this package imports onnx (netspec itself stays cheap to import without it).
"""

from .errors import ExportError, OpsetError, ParityError
from .onnx_export import DEFAULT_OPSET, IR_VERSIONS, OUTPUT_NAME, SUPPORTED_OPSETS, export_onnx
from .validate import check_model, parity_report, raise_for_report, run_onnx

__all__ = [
    "DEFAULT_OPSET",
    "IR_VERSIONS",
    "OUTPUT_NAME",
    "SUPPORTED_OPSETS",
    "ExportError",
    "OpsetError",
    "ParityError",
    "check_model",
    "export_onnx",
    "parity_report",
    "raise_for_report",
    "run_onnx",
]
