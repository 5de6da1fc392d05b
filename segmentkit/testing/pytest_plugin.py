"""segmentkit's pytest plugin (entry point ``pytest11``; active once the ``testing`` extra is
installed).

Fixtures:

* ``segmentkit_fake`` — a factory: ``segmentkit_fake("notificator", mode="responses",
  faults=[("503", 0.2)], seed=1, **fake_options)`` returns a running
  :class:`~segmentkit.testing.FakeServer` (``.client()``, ``.dsn()``, ``.log``, ``.platform``
  with the fake's seeding helpers). Every server started is stopped after the test.
* ``segmentkit_live`` — ``segmentkit_live("notificator")`` returns a connected client for the
  real platform when ``SEGMENTKIT_LIVE_<PROVIDER>_DSN`` is set and skips the test otherwise;
  ``write=True`` also requires ``SEGMENTKIT_LIVE_WRITE=1``.

Marker ``live``: tests marked ``@pytest.mark.live`` are skipped unless some
``SEGMENTKIT_LIVE_*_DSN`` variable is set.

Typed fixtures: annotate them with :class:`FakeFactory` and :class:`LiveFactory`
(``from segmentkit.testing import FakeFactory``)::

    def test_vip(segmentkit_fake: FakeFactory) -> None:
        srv = segmentkit_fake("notificator", mode="responses")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from segmentkit.client import Client, connect

if TYPE_CHECKING:  # the fakes need the testing extra; import them only when a fixture runs
    from .server import FakeServer, Mode

__all__ = ["FakeFactory", "FaultSpec", "LiveFactory", "segmentkit_fake", "segmentkit_live"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``live`` marker."""
    config.addinivalue_line(
        "markers",
        "live: runs against a real platform; skipped unless SEGMENTKIT_LIVE_<PROVIDER>_DSN is set",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``live``-marked tests when no live DSN is configured at all."""
    if any(k.startswith("SEGMENTKIT_LIVE_") and k.endswith("_DSN") for k in os.environ):
        return
    skip = pytest.mark.skip(reason="no SEGMENTKIT_LIVE_<PROVIDER>_DSN set")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


#: A fault to inject: ``("503", 0.2)`` (kind, probability) or the keywords of
#: :meth:`FaultInjector.add <segmentkit.testing.FaultInjector.add>`.
FaultSpec = tuple[str, float] | dict[str, Any]


class FakeFactory(Protocol):
    """The type of the ``segmentkit_fake`` fixture."""

    def __call__(
        self,
        provider: str,
        mode: Mode = "socket",
        *,
        faults: Iterable[FaultSpec] = (),
        **options: Any,
    ) -> FakeServer:
        """Start ``provider``'s fake (``seed=``, ``profile=``… go to the fake) and return the
        running :class:`~segmentkit.testing.FakeServer`; it stops after the test."""
        ...


class LiveFactory(Protocol):
    """The type of the ``segmentkit_live`` fixture."""

    def __call__(self, provider: str, *, write: bool = False, **options: Any) -> Client:
        """A client for the real ``provider`` from ``SEGMENTKIT_LIVE_<PROVIDER>_DSN``, or skip
        the test; ``write=True`` also needs ``SEGMENTKIT_LIVE_WRITE=1``."""
        ...


@pytest.fixture
def segmentkit_fake() -> Iterator[FakeFactory]:
    """Factory for running fakes (see the module docstring); stops them after the test."""
    started: list[FakeServer] = []

    from .server import fake

    def make(
        provider: str,
        mode: Mode = "socket",
        *,
        faults: Iterable[FaultSpec] = (),
        **options: Any,
    ) -> FakeServer:
        server = fake(provider, mode, **options).start()
        started.append(server)
        for spec in faults:
            if isinstance(spec, dict):
                server.faults.add(**spec)
            else:
                server.faults.add(spec[0], spec[1])
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def segmentkit_live() -> Iterator[LiveFactory]:
    """Factory for clients of the real platforms, skipping when not configured."""
    opened: list[Client] = []

    def make(provider: str, *, write: bool = False, **options: Any) -> Client:
        env = f"SEGMENTKIT_LIVE_{provider.upper()}_DSN"
        dsn = os.environ.get(env)
        if not dsn:
            pytest.skip(f"set {env} to run against the real {provider} platform")
        if write and os.environ.get("SEGMENTKIT_LIVE_WRITE") != "1":
            pytest.skip("writes against a real platform need SEGMENTKIT_LIVE_WRITE=1")
        client = connect(dsn, **options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
