"""Events the training loop emits (it never prints); the CLI renders them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Event:
    kind: str  # "start", "init_from", "epoch_start", "batch", "epoch_end", "early_stop", "restore_best", "warning", "stop_requested", "done",
    # "decode" (batch/batches: files decoded so far / in all), "note" (data["message"]: a hint)
    epoch: int = 0  # 1-based
    batch: int = 0  # 1-based within the epoch
    batches: int = 0
    data: dict = field(default_factory=dict)


class StopTraining(Exception):
    """Raised by a callback at "epoch_end" to end training after that epoch (a sweep pruning a
    trial). The run still finishes normally: the model and result.json are written."""
