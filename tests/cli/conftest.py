"""Fixtures for the CLI and sync tests: the memory fake on a loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from segmentkit.plugins import Registry, create_registry
from segmentkit.testing import FakeServer, fake


@pytest.fixture
def registry() -> Registry:
    """A fresh registry holding only the memory reference adapter."""
    return create_registry(env={"SEGMENTKIT_PLUGINS": "memory"})


@pytest.fixture
def memory(registry: Registry) -> Iterator[FakeServer]:
    """The memory fake on 127.0.0.1, stopped after the test."""
    with fake("memory", "socket", registry=registry, seed=3) as srv:
        yield srv
