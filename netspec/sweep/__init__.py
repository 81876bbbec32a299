"""Hyperparameter sweeps over a spec on Optuna (the `sweep` extra).

The sweep file model and the space check need only netspec; Optuna is imported by the modules
that run trials (storage, objective, runner), so `import netspec` stays free of it.
"""

from .model import Sweep, load_sweep
from .space import SweepPlan, check_sweep

__all__ = ["Sweep", "SweepPlan", "check_sweep", "load_sweep"]
