"""Compiler: spec -> IR with shapes, parameter/FLOP counts, memory estimate and checks."""

from .compile import Compiled, compile_spec
from .cost import Cost, estimate

__all__ = ["Compiled", "Cost", "compile_spec", "estimate"]
