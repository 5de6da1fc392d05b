"""Fixtures for the allstech adapter tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from segmentkit.testing import FakeServer, fake

HERE = Path(__file__).parent

# Another adapter that is not installed yet must not fail these tests: the registry reports it
# as a PluginWarning (warnings are errors). A failure to load *allstech* is still an error.
_OTHER_PLUGIN_SKIPPED = pytest.mark.filterwarnings(
    r"ignore:segmentkit plugin skipped. (?!allstech):segmentkit.plugins.PluginWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(_OTHER_PLUGIN_SKIPPED)


@pytest.fixture(params=["socket", "responses"])
def transport_mode(request: pytest.FixtureRequest) -> str:
    """Both transports of the fake: a loopback socket and in-process ``responses``."""
    return str(request.param)


@pytest.fixture
def srv(transport_mode: str) -> Iterator[FakeServer]:
    """A running allstech fake with default options (HTTP 200 failures, duplicates allowed)."""
    with fake("allstech", transport_mode) as server:  # type: ignore[arg-type]
        yield server
