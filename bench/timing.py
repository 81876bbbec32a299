"""Alternating timed rounds, shared by the bench scripts (same process, same data).

Two measured biases this corrects:
- a fixed order favours whoever follows a given side: the same rnn code timed as two "sides"
  measured 0.92x just from running right after PyTorch's turn, so each round rotates who goes
  first;
- with 2+ threads each side's idle worker threads spin for a while after its turn (PyTorch's
  OpenMP, OpenBLAS's pthreads) and take the second core from whoever runs next: netspec's
  mlp_digits inference ran at 0.21M/s right after PyTorch's turn and at 2.1M/s alone. `settle`
  seconds of sleep before each timed turn let them go to sleep (bench scripts pass SETTLE_S
  when threads > 1).
"""

from __future__ import annotations

import time

SETTLE_S = 0.3


def alternate(fns: dict, rounds: int, clock=time.perf_counter, settle: float = 0.0) -> dict[str, list[float]]:
    """Per side, the seconds of each of `rounds` timed calls, after one warm-up call each."""
    for fn in fns.values():  # warm-up: buffers, caches, first-call costs
        fn()
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            if settle:
                time.sleep(settle)
            t0 = clock()
            fns[k]()
            times[k].append(clock() - t0)
    return times
