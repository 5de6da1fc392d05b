"""Shared test configuration: every test is bounded in time (pytest-timeout, see pyproject),
and every test starts with empty shared rate budgets and segment locks."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_coordination(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default ``host`` coordination backend keeps its budgets in a per-user runtime
    directory that outlives the process; without this, one test's (or an earlier run's) use of
    a fake account's 60-per-minute budget would make a later test wait. Each test gets its own
    runtime directory (inherited by the worker processes it starts) and fresh in-process
    coordinators."""
    from segmentkit import coordination

    runtime = tmp_path_factory.mktemp("runtime")
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("SEGMENTKIT_COORDINATION", raising=False)
    monkeypatch.setattr(coordination, "_CACHE", {})
    monkeypatch.setattr(coordination, "_PROCESS_LOCAL", coordination.LocalCoordinator())
