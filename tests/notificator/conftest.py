"""Fixtures for the notificator tests: the 66text fake in both transports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from segmentkit.testing import FakeServer, fake


@pytest.fixture(params=["socket", "responses"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both transports: a real loopback socket and in-process ``responses``."""
    return str(request.param)


@pytest.fixture
def start(mode: str) -> Iterator[Callable[..., FakeServer]]:
    """``start(**fake_options)`` → a running fake (stopped after the test). In responses
    mode only one may run at a time (they share a host), so stop one before the next."""
    started: list[FakeServer] = []

    def make(**options: Any) -> FakeServer:
        for srv in started:
            srv.stop()
        srv = fake("notificator", mode, **options).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def phone(i: int) -> str:
    """A valid Italian mobile number, distinct per ``i``."""
    return f"+39333{1000000 + i:07d}"
