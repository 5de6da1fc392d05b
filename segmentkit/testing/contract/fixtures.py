"""Fixtures every contract topic shares: the fake server, the client, the expectations.

:class:`ProviderFixtures` is what an adapter's test module customises (``provider``,
``fake_options``, ``recipients``, ``expectations``); the topic classes only hold checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import requests

from segmentkit import Capability, Client, Recipient, connect
from segmentkit.errors import SegmentkitError

from ..app import FakePlatform
from ..server import FakeServer, fake_class

__all__ = [
    "Expectations",
    "ProviderFixtures",
    "all_requests_exceptions",
    "fast_options",
    "sample_recipients",
    "secret_values",
]

_SMS = [
    Recipient(phone="+393331234567", name="Ada Rossi", first_name="Ada", last_name="Rossi"),
    Recipient(phone="+393471112233", name="Bruno Neri", first_name="Bruno", last_name="Neri"),
    Recipient(phone="+447911123456", name="Cleo Hart", first_name="Cleo", last_name="Hart"),
]
_EMAIL = [
    Recipient(email="ada@example.com", first_name="Ada", last_name="Rossi"),
    Recipient(email="bruno@example.org", first_name="Bruno", last_name="Neri"),
    Recipient(email="cleo@example.net", first_name="Cleo", last_name="Hart"),
]


def sample_recipients(channel: str) -> list[Recipient]:
    """Three valid recipients for ``channel`` (with names, as some platforms require)."""
    return list(_SMS if channel == "sms" else _EMAIL)


def all_requests_exceptions() -> list[type[requests.exceptions.RequestException]]:
    """Every exception class ``requests`` defines (the translation must cover them all)."""
    out = []
    for name in dir(requests.exceptions):
        obj = getattr(requests.exceptions, name)
        if isinstance(obj, type) and issubclass(obj, requests.exceptions.RequestException):
            out.append(obj)
    return sorted(out, key=lambda c: c.__name__)


def fast_options(**extra: Any) -> dict[str, Any]:
    """Client options for tests: tiny backoff, a read timeout that tolerates a busy machine."""
    opts: dict[str, Any] = {"backoff_base": 0.001, "backoff_max": 0.01, "read_timeout": 3.0}
    opts.update(extra)
    return opts


def secret_values(server: FakeServer) -> list[str]:
    """The secrets the fake's default account uses (from its DSN's credentials)."""
    from segmentkit.config import parse_dsn

    return [c for c in parse_dsn(server.dsn()).credentials if c]


def _member_copies(platform: FakePlatform, segment_id: str, identity: str) -> int:
    return platform.member_identities(segment_id).count(identity)


@dataclass(frozen=True)
class Expectations:
    """What one fake setup is *known* to do differently from the contract's default outcome.

    The contract still checks that outcome precisely: an expectation replaces one promised
    result by another promised result, never by "anything goes".

    ``update_fails_with`` / ``update_fails_match``: every segment update raises this error
    (message matching the regex) and changes nothing (66text v2.0.1, API-SPEC 1.6).
    ``member_writes_fail_with``: adding members cannot succeed; each new member is a
    ``failed`` outcome whose reason contains this text, and the segment is unchanged.
    ``lost_write_methods``: the HTTP methods the "applied then lost" fault hits.
    ``copies``: how many copies of an identity the platform holds after a lost write
    (``(platform, segment_id, identity) -> int``; default: members of the segment).
    """

    update_fails_with: type[SegmentkitError] | None = None
    update_fails_match: str = ""
    member_writes_fail_with: str | None = None
    lost_write_methods: tuple[str, ...] = ("POST", "PUT", "PATCH")
    copies: Callable[[FakePlatform, str, str], int] = _member_copies


class ProviderFixtures:
    """Fixtures of the contract suite for one adapter. Set :attr:`provider`; optionally
    :attr:`fake_options` (a list of keyword dicts for the fake, each run as its own
    parameter); override :meth:`recipients` for platform-specific sample data and the
    :meth:`expectations` fixture for setups known to behave differently."""

    #: The provider id under test.
    provider: ClassVar[str] = ""
    #: Keyword sets for the fake platform; every test runs once per entry.
    fake_options: ClassVar[list[dict[str, Any]]] = [{}]
    #: How many segments the paging test seeds beyond two full pages (kept small).
    extra_segments: ClassVar[int] = 3

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrise every test over transports (plus ``live`` when configured) and over
        :attr:`fake_options`."""
        if "mode" in metafunc.fixturenames:
            modes = ["socket", "responses"]
            needs_fake = {"server", "platform"} & set(metafunc.fixturenames)
            if os.environ.get(self.live_env()) and not needs_fake:
                modes.append("live")
            metafunc.parametrize("mode", modes)
        if "fake_opts" in metafunc.fixturenames:
            metafunc.parametrize(
                "fake_opts",
                self.fake_options,
                ids=[
                    ",".join(f"{k}={v}" for k, v in o.items()) or "default"
                    for o in self.fake_options
                ],
            )

    @classmethod
    def live_env(cls) -> str:
        """The environment variable holding a live DSN for this provider."""
        return f"SEGMENTKIT_LIVE_{cls.provider.upper()}_DSN"

    @pytest.fixture
    def expectations(self, fake_opts: dict[str, Any]) -> Expectations:
        """The known behaviour of the fake set up with ``fake_opts`` (default: none)."""
        return Expectations()

    @pytest.fixture
    def server(self, mode: str, fake_opts: dict[str, Any]) -> Iterator[FakeServer]:
        """A running fake for :attr:`provider` (tests using it never run live)."""
        platform = fake_class(self.provider)(**fake_opts)
        with FakeServer(platform, mode) as srv:  # type: ignore[arg-type]
            yield srv

    @pytest.fixture
    def platform(self, server: FakeServer) -> FakePlatform:
        """The fake platform behind :meth:`server`."""
        return server.platform

    @pytest.fixture
    def client(
        self, request: pytest.FixtureRequest, mode: str, fake_opts: dict[str, Any]
    ) -> Iterator[Client]:
        """A client for the fake's default account (fast test backoff), or for the real
        platform in ``live`` mode (read-only tests only)."""
        if mode == "live":
            with connect(os.environ[self.live_env()]) as live:
                yield live
            return
        server: FakeServer = request.getfixturevalue("server")
        yield server.client(**fast_options())

    def recipients(self, channel: str) -> list[Recipient]:
        """Sample recipients for the round-trip tests (override for platform specifics)."""
        return sample_recipients(channel)

    def _has(self, client: Client, cap: Capability) -> bool:
        return cap in client.capabilities
