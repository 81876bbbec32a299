"""Spec language: parse with positions, validate strictly, report located errors."""

from .load import load_spec, locate, parse_text, validate_data
from .models import Spec

__all__ = ["Spec", "load_spec", "locate", "parse_text", "validate_data"]
