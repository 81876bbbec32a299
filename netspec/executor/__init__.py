"""Executor: a plan built once from the IR, run for forward/backward in train or inference mode."""

from .params import ParamStore
from .plan import NonFiniteError, Plan

__all__ = ["NonFiniteError", "ParamStore", "Plan"]
