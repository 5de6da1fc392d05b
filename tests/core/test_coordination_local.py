"""The local coordination backend: exact shared budgets and per-scope locks."""

from __future__ import annotations

import threading

import pytest

from segmentkit import LockTimeoutError
from segmentkit.coordination import LocalCoordinator, scope_key


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_budget_allows_limit_per_window_then_spaces_reservations() -> None:
    clock = _Clock()
    budget = LocalCoordinator(clock=clock).budget("s", limit=3, window=10.0)
    assert [budget.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # The 4th..6th slots open as the first three leave the window, in order.
    assert [budget.reserve() for _ in range(3)] == [10.0, 10.0, 10.0]
    clock.now += 10.0
    assert budget.reserve() == 10.0  # slots 4-6 now occupy the window


def test_budget_block_until_delays_every_reservation() -> None:
    clock = _Clock()
    budget = LocalCoordinator(clock=clock).budget("s", limit=100, window=1.0)
    budget.block_until(clock.now + 5)
    assert budget.reserve() == 5.0


def test_budget_is_shared_by_scope_and_exact_under_threads() -> None:
    coord = LocalCoordinator(clock=_Clock())
    waits: list[float] = []
    guard = threading.Lock()

    def take() -> None:
        b = coord.budget("acct", limit=10, window=60.0)
        w = b.reserve()
        with guard:
            waits.append(w)

    threads = [threading.Thread(target=take) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(waits) == [0.0] * 10 + [60.0] * 10 + [120.0] * 10


def test_lock_times_out_with_library_error() -> None:
    coord = LocalCoordinator()
    with coord.lock("seg"), pytest.raises(LockTimeoutError) as info:
        with coord.lock("seg", timeout=0.05):
            pass
    assert info.value.scope == "seg"


def test_scope_key_is_one_way_and_stable() -> None:
    key = scope_key("notificator", "SECRETKEY123", "42")
    assert key == scope_key("notificator", "SECRETKEY123", "42")
    assert "SECRET" not in key
    assert len(key) == 40
    assert scope_key("a", "bc") != scope_key("ab", "c")


def test_lock_yields_a_lease_that_stays_valid() -> None:
    coord = LocalCoordinator()
    with coord.lock("seg") as lease:
        assert lease.scope == "seg"
        lease.check()  # a local lock cannot be lost while its holder lives
