"""Several PROCESSES share one lock and one budget, for the host and redis backends."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from segmentkit import LockTimeoutError
from segmentkit.coordination import scope_key

from . import _procs

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=["host", "redis"])
def spec(request: pytest.FixtureRequest, host_dir: Path) -> str:
    if request.param == "host":
        return "host"
    url: str = request.getfixturevalue("redis_url")
    return url


def _run_all(target: Callable[..., None], arg_sets: list[tuple[Any, ...]], timeout: float) -> None:
    procs = [SPAWN.Process(target=target, args=args) for args in arg_sets]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)


def test_budget_is_exact_across_processes(spec: str, host_dir: Path, tmp_path: Path) -> None:
    """4 processes x 25 reserves, limit 30 per 3 s: no 3 s window holds more than 30 starts,
    and the budget is not wasted (100 starts fit in 3 windows + a bit)."""
    limit, window, workers, each = 30, 3.0, 4, 25
    scope = scope_key("test-budget", spec, str(time.time_ns()))
    outs = [tmp_path / f"out{i}.json" for i in range(workers)]
    _run_all(
        _procs.budget_worker,
        [(spec, str(host_dir), scope, each, limit, window, str(o)) for o in outs],
        timeout=90,
    )
    rows = [r for o in outs for r in json.loads(o.read_text())]
    assert len(rows) == workers * each
    slack = max(r[1] for r in rows) + 1e-3  # how precisely a start is known (0 for host)
    starts = sorted(r[0] for r in rows)
    # limit+1 consecutive starts always span at least one window: no window holds limit+1.
    gaps = [starts[i + limit] - starts[i] for i in range(len(starts) - limit)]
    assert min(gaps) >= window - slack, min(gaps)
    # ... and slots are handed out as soon as the window allows (share of the limit used).
    assert starts[-1] - starts[0] <= 3 * window + slack + 1.0


def test_lock_excludes_across_processes(spec: str, host_dir: Path, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    scope = scope_key("test-lock", spec, str(time.time_ns()))
    _run_all(
        _procs.lock_worker,
        [(spec, str(host_dir), scope, str(counter), 15) for _ in range(4)],
        timeout=90,
    )
    assert counter.read_text() == "60"  # no read-modify-write round was lost


def test_lock_of_a_sigkilled_holder_is_freed(spec: str, host_dir: Path, tmp_path: Path) -> None:
    """host: the kernel drops the dead process's file lock; redis: the key expires (TTL)."""
    ttl = 1.5
    scope = scope_key("test-dead", spec, str(time.time_ns()))
    ready = tmp_path / "ready"
    proc = SPAWN.Process(
        target=_procs.hold_lock_worker, args=(spec, str(host_dir), scope, str(ready), ttl)
    )
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and proc.is_alive():
            time.sleep(0.02)
        assert ready.exists(), "the worker never took the lock"
        coord = _procs.coordinator(spec, str(host_dir))
        with pytest.raises(LockTimeoutError):  # held: renewed past its TTL while alive
            with coord.lock(scope, timeout=ttl + 0.5, ttl=ttl):
                pass
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        t0 = time.monotonic()
        with coord.lock(scope, timeout=30, ttl=ttl) as lease:
            lease.check()
        # Freed within the TTL (plus polling) — not after the 30 s the wait allowed.
        assert time.monotonic() - t0 < ttl + 5
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)
