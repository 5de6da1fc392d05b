"""Fixtures for the core tests: a fresh memory-only registry per test, memory fakes in both
transports, and a fake ``sleep`` so no test waits for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import segmentkit.testing.memory
from segmentkit import Registry, create_registry
from segmentkit.testing import FakeServer, fake


@pytest.fixture
def registry() -> Registry:
    """A fresh registry holding only the ``memory`` reference adapter (no entry points, so
    adapters being written concurrently cannot interfere)."""
    return create_registry(entry_points=False, plugins=[segmentkit.testing.memory], env={})


class SleepRecorder:
    """A stand-in for ``time.sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture(params=["responses", "socket"])
def transport_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(registry: Registry) -> Iterator[Callable[..., FakeServer]]:
    """Factory for running memory fakes (``make_server(mode)``); all stopped after the test."""
    started: list[FakeServer] = []

    def make(mode: str = "responses", **options: Any) -> FakeServer:
        srv = fake("memory", mode, registry=registry, **options).start()  # type: ignore[arg-type]
        started.append(srv)
        return srv

    yield make
    for srv in reversed(started):
        srv.stop()


@pytest.fixture
def srv(make_server: Callable[..., FakeServer]) -> FakeServer:
    """A running memory fake in ``responses`` mode."""
    return make_server("responses")


@pytest.fixture
def any_srv(make_server: Callable[..., FakeServer], transport_mode: str) -> FakeServer:
    """A running memory fake, once per transport mode."""
    return make_server(transport_mode)
