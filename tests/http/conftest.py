"""Fixtures for the wire tests: memory fakes on a real loopback socket (the wire is what is
under test, so never the ``responses`` mode)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import segmentkit.testing.memory
from segmentkit import create_registry
from segmentkit.testing import FakeServer, fake


@pytest.fixture
def sock_srv() -> Iterator[FakeServer]:
    """A running memory fake on 127.0.0.1."""
    registry = create_registry(entry_points=False, plugins=[segmentkit.testing.memory], env={})
    with fake("memory", "socket", registry=registry) as srv:
        yield srv
