"""Shared test configuration: every test is bounded in time (pytest-timeout, see pyproject),
and every test starts with empty shared rate budgets and segment locks."""

from __future__ import annotations

import re
import sys
from collections.abc import Generator, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="session")
def _regex_cache_for_every_region() -> Iterator[None]:
    """libphonenumber matches numbers with ``re`` patterns compiled on demand through the
    ``re`` module's cache (512 patterns in CPython). The identity tests' corpora span every
    region and need about 2,000, so with the default cache most of their time went to
    compiling the same patterns again. Only the speed changes: the same patterns decide."""
    before = getattr(re, "_MAXCACHE", None)
    if before is None:  # pragma: no cover - another Python's re: nothing to tune
        yield
        return
    re._MAXCACHE = max(before, 10_000)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        re._MAXCACHE = before  # type: ignore[attr-defined]


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


# -- the resilience matrix (tests/resilience/test_matrix.py) --------------------------------
# Here, not in tests/resilience/conftest.py: under ``pytest -n`` the cells are recorded in the
# workers, and only this (initial) conftest is sure to be loaded in the controller that prints.


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Hand the matrix cells a test recorded to its report (it travels to the controller)."""
    report = yield
    if call.when == "call" and "resilience" in item.nodeid:
        from tests.resilience import matrix_table

        cells = matrix_table.take()
        if cells:
            report.user_properties.append(("resilience_matrix", cells))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == "resilience_matrix":
            from tests.resilience import matrix_table

            matrix_table.merge(value)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the resilience matrix (fault x operation → requests, retries, outcome) after the
    run, outside output capture, so it shows with or without ``-s``."""
    if "tests.resilience.matrix_table" not in sys.modules:
        return
    from tests.resilience import matrix_table

    text = matrix_table.render()
    if text:
        terminalreporter.write_sep("=", "resilience matrix")
        terminalreporter.write_line(text)
