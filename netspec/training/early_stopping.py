"""Early stopping on a monitored quantity, with its state saved in checkpoints."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .metrics import higher_is_better


@dataclass
class EarlyStopState:
    best: float = math.nan
    best_epoch: int = 0
    wait: int = 0


class EarlyStopper:
    def __init__(self, cfg, state: EarlyStopState | None = None):
        self.cfg = cfg
        self.state = state or EarlyStopState()
        name = cfg.monitor.removeprefix("val_")
        if cfg.mode == "auto":
            self.maximize = name != "loss" and higher_is_better(name)
        else:
            self.maximize = cfg.mode == "max"

    def update(self, value: float, epoch: int) -> tuple[bool, bool]:
        """Record this epoch's value; returns (improved, should_stop)."""
        s = self.state
        delta = self.cfg.min_delta
        if math.isnan(s.best):
            improved = True
        elif self.maximize:
            improved = value > s.best + delta
        else:
            improved = value < s.best - delta
        if improved:
            s.best, s.best_epoch, s.wait = value, epoch, 0
        else:
            s.wait += 1
        return improved, s.wait >= self.cfg.patience

    def to_dict(self) -> dict:
        return asdict(self.state)
