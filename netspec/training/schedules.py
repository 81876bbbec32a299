"""Learning-rate schedules, evaluated per epoch (0-based) from the spec; pure functions so a
resumed run recomputes the same rate from the epoch number alone."""

from __future__ import annotations

import math


def learning_rate(base: float, schedule, epoch: int, epochs: int) -> float:
    kind = schedule.type
    if kind == "constant":
        return base
    if kind == "step":
        return base * schedule.gamma ** (epoch // schedule.step_size)
    if kind == "exponential":
        return base * schedule.gamma**epoch
    if kind == "cosine":
        t_max = schedule.t_max or epochs
        t = min(epoch, t_max)
        return schedule.min_lr + (base - schedule.min_lr) * (1 + math.cos(math.pi * t / t_max)) / 2
    raise ValueError(f"unknown schedule {kind!r}")
