"""Budgets of one scope and window share one log and the limit the server advertised.

A worker that has not had an answer yet runs on the adapter's declared limit; once any worker
learned the advertised one (``Budget.learn``), every budget of the scope counts against it,
and requests counted under either limit are the same requests.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from segmentkit.coordination import Coordinator, LocalCoordinator, scope_key


@pytest.fixture(params=["local", "host", "redis"])
def coordinator(request: pytest.FixtureRequest, host_dir: Path) -> Coordinator:
    if request.param == "local":
        return LocalCoordinator()
    if request.param == "host":
        from segmentkit.coordination.host import HostCoordinator

        return HostCoordinator(host_dir)
    from segmentkit.coordination.redis import RedisCoordinator

    url: str = request.getfixturevalue("redis_url")
    return RedisCoordinator(url)


@pytest.mark.timeout(30)
def test_a_declared_budget_uses_the_learned_limit_and_the_same_log(
    coordinator: Coordinator,
) -> None:
    scope = scope_key("test-learn", str(time.time_ns()))
    declared = coordinator.budget(scope, limit=60, window=30.0)
    assert [declared.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    advertised = coordinator.budget(scope, limit=4, window=30.0)
    advertised.learn(4)
    assert advertised.reserve() == 0.0  # the 4th request in the shared log
    assert advertised.reserve() > 25  # the 5th waits for the 1st to leave the window
    # A lower learned limit never stalls a declared budget (a stale value from an old run
    # must not; each worker switches to the advertised limit at its first answer).
    assert coordinator.budget(scope, limit=60, window=30.0).reserve() == 0.0
    # Another window is another log.
    assert coordinator.budget(scope, limit=60, window=31.0).reserve() == 0.0
    coordinator.close()


@pytest.mark.timeout(30)
def test_a_larger_learned_limit_frees_a_declared_budget(coordinator: Coordinator) -> None:
    scope = scope_key("test-learn-up", str(time.time_ns()))
    declared = coordinator.budget(scope, limit=2, window=30.0)
    declared.reserve()
    declared.reserve()
    assert declared.reserve() > 25  # full at the declared limit
    coordinator.budget(scope, limit=100, window=30.0).learn(100)
    assert coordinator.budget(scope, limit=2, window=30.0).reserve() == 0.0
    coordinator.close()
