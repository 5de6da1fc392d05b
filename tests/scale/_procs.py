"""Worker functions run in separate (spawned) processes by the scale tests.

Kept free of pytest so that a spawned child imports only this module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from segmentkit.coordination import Coordinator


class RecordingClock:
    """time.time() that remembers the last value it returned (the budget's ``now``)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        self.last = time.time()
        return self.last


def coordinator(spec: str, directory: str, clock: RecordingClock | None = None) -> Coordinator:
    if spec == "host":
        from segmentkit.coordination.host import HostCoordinator

        return HostCoordinator(directory, clock=clock or time.time)
    from segmentkit.coordination.redis import RedisCoordinator

    return RedisCoordinator(spec)


def budget_worker(
    spec: str, directory: str, scope: str, n: int, limit: int, window: float, out: str
) -> None:
    """Reserve ``n`` slots; write each slot's start time and how precisely it is known."""
    clock = RecordingClock()
    budget = coordinator(spec, directory, clock).budget(scope, limit=limit, window=window)
    rows = []
    for _ in range(n):
        before = time.time()
        wait = budget.reserve()
        after = time.time()
        if spec == "host":  # the budget's own clock reading: the start is exact
            rows.append([clock.last + wait, 0.0])
        else:  # Redis TIME lies between `before` and `after` (same machine, same clock)
            rows.append([before + wait, after - before])
    Path(out).write_text(json.dumps(rows), encoding="ascii")


def lock_worker(spec: str, directory: str, scope: str, counter: str, n: int) -> None:
    """``n`` read-modify-write rounds of a shared counter file under the lock."""
    coord = coordinator(spec, directory)
    path = Path(counter)
    for _ in range(n):
        with coord.lock(scope, timeout=60, ttl=30) as lease:
            value = int(path.read_text(encoding="ascii"))
            time.sleep(0.002)  # widen the race a lock must close
            lease.check()
            path.write_text(str(value + 1), encoding="ascii")


def hold_lock_worker(spec: str, directory: str, scope: str, ready: str, ttl: float) -> None:
    """Take the lock, say so, then hang until killed."""
    coord = coordinator(spec, directory)
    with coord.lock(scope, timeout=30, ttl=ttl):
        Path(ready).write_text("held", encoding="ascii")
        time.sleep(120)
