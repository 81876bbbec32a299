"""Errors raised by the ONNX exporter. All are NetspecErrors, so the CLI exits 1 with the message."""

from __future__ import annotations

from ..errors import NetspecError


class ExportError(NetspecError):
    """The graph (or its parameters) cannot be exported as asked; the message says why and how."""


class OpsetError(ExportError, ValueError):
    """An opset outside the supported range was requested."""


class ParityError(ExportError):
    """The exported model and the executor disagree (or the model failed validation)."""
