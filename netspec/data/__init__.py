"""Data: CSV / NPZ loading with located errors, splits, windows, standardization, batching.

The training loop uses `load_splits`; `predict` / `eval --data` use `load_inputs`; every bad
file raises `netspec.errors.DataError` naming the file, line, column and value.
"""

from .batches import iterate_batches
from .dataset import Dataset, Splits
from .inputs import load_inputs
from .load import load_splits
from .standardize import Standardizer

__all__ = ["Dataset", "Splits", "Standardizer", "iterate_batches", "load_inputs", "load_splits"]
