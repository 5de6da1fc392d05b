"""The adapter contract suite: the same test bodies for every adapter, ours and third parties'.

Subclass it in one line in your adapter's tests::

    from segmentkit.testing.contract import ProviderContract

    class TestAcmeContract(ProviderContract):
        provider = "acme"

Every test runs against the adapter's fake in both transports (``socket`` and ``responses``)
and, for each entry of :attr:`ProviderContract.fake_options`, with those fake options. When
``SEGMENTKIT_LIVE_<PROVIDER>_DSN`` is set, the read-only checks also run against the real
platform (writes only with ``SEGMENTKIT_LIVE_WRITE=1``); otherwise they are skipped with a
reason. The fake must implement the standard seeding protocol of
:class:`~segmentkit.testing.app.FakePlatform` (``seed_segment``, ``member_identities``,
``segment_ids``, ``dsn_for``, ``bad_dsn``).

What it checks: a bad key raises ``AuthenticationError``; listing walks every page and returns
every seeded segment exactly once with the fewest requests; ``get`` of a missing id raises
``NotFoundError``; create/update/delete round-trip where the capabilities say so, else
``UnsupportedOperationError`` before any request; recipients add → list → remove round-trip
with one outcome per item; an invalid recipient is rejected before any request; every
``requests`` exception becomes a ``TransportError``; a malformed body becomes
``UnexpectedResponseError`` and an HTML 500 page a ``ServerError``; an injected 429 or 503 on
a read is retried and succeeds; an "applied then lost" write leaves exactly one copy; no
secret appears in logs, events, error strings or reprs; declared capabilities equal the
operations that work.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import requests

from segmentkit import (
    AuthenticationError,
    Capability,
    Client,
    NotFoundError,
    OutcomeStatus,
    Recipient,
    SegmentKind,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    connect,
)
from segmentkit.errors import SegmentkitError

from .app import FakePlatform
from .server import FakeServer, fake_class

__all__ = ["ProviderContract", "all_requests_exceptions", "sample_recipients"]

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


def _fast(**extra: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"backoff_base": 0.001, "backoff_max": 0.01, "read_timeout": 3.0}
    opts.update(extra)
    return opts


class ProviderContract:
    """Contract tests for one adapter. Set :attr:`provider`; optionally :attr:`fake_options`
    (a list of keyword dicts for the fake, each run as its own parameter), and override
    :meth:`recipients` for platform-specific sample data."""

    #: The provider id under test.
    provider: ClassVar[str] = ""
    #: Keyword sets for the fake platform; every test runs once per entry.
    fake_options: ClassVar[list[dict[str, Any]]] = [{}]
    #: How many segments the paging test seeds beyond two full pages (kept small).
    extra_segments: ClassVar[int] = 3

    # ------------------------------------------------------------------ fixtures

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
        yield server.client(**_fast())

    def recipients(self, channel: str) -> list[Recipient]:
        """Sample recipients for the round-trip tests (override for platform specifics)."""
        return sample_recipients(channel)

    def _has(self, client: Client, cap: Capability) -> bool:
        return cap in client.capabilities

    # ------------------------------------------------------------------ checks

    def test_bad_key_raises_authentication_error(self, server: FakeServer) -> None:
        with (
            connect(server.platform.bad_dsn(server.base_url), **_fast()) as bad,
            pytest.raises(AuthenticationError) as info,
        ):
            list(bad.segments.list())
        assert info.value.provider == self.provider

    def test_list_returns_every_segment_once_with_fewest_requests(
        self, server: FakeServer, client: Client
    ) -> None:
        page_size = client.adapter.max_page_size
        wanted = (2 * page_size if page_size else 5) + self.extra_segments
        ids = set(server.platform.segment_ids())
        for i in range(wanted - len(ids)):
            ids.add(server.platform.seed_segment(f"contract segment {i}", []))
        server.log.clear()
        listed = [s.id for s in client.segments.list()]
        assert sorted(listed) == sorted(ids), "every seeded segment exactly once"
        pages = math.ceil(len(ids) / page_size) if page_size else 1
        assert server.log.count("GET") == pages, "one request per page, no more"

    def test_get_missing_segment_raises_not_found(self, client: Client) -> None:
        """Read-only; also runs live."""
        with pytest.raises(NotFoundError):
            client.segments.get("987654321")

    def test_get_returns_seeded_segment(self, platform: FakePlatform, client: Client) -> None:
        sid = platform.seed_segment("contract get", self.recipients(client.channel)[:2])
        seg = client.segments.get(sid)
        assert seg.id == sid
        assert seg.name == "contract get"
        assert seg.provider == self.provider
        assert seg.kind is SegmentKind.static
        assert seg.raw, "the provider's object is kept in raw"

    def test_create_update_delete_round_trip_or_unsupported_before_request(
        self, server: FakeServer, client: Client
    ) -> None:
        members = self.recipients(client.channel)[:2]
        for cap, call in (
            (
                Capability.create_segment,
                lambda: client.segments.create("contract created", recipients=members),
            ),
            (Capability.update_segment, lambda: client.segments.update("1", name="renamed")),
            (Capability.delete_segment, lambda: client.segments.delete("1")),
        ):
            if not self._has(client, cap):
                before = len(server.log)
                with pytest.raises(UnsupportedOperationError):
                    call()
                assert len(server.log) == before, f"{cap.value}: refused before any request"
        if not self._has(client, Capability.create_segment):
            return
        created = client.segments.create("contract created", recipients=members)
        assert created.name == "contract created"
        ids = sorted(r.identity(client.channel) or "" for r in members)
        got = sorted(r.identity(client.channel) or "" for r in client.recipients.list(created.id))
        assert got == ids
        if self._has(client, Capability.update_segment):
            renamed = client.segments.update(created.id, name="contract renamed")
            assert client.segments.get(created.id).name == "contract renamed" == renamed.name
            kept = sorted(
                r.identity(client.channel) or "" for r in client.recipients.list(created.id)
            )
            assert kept == ids, "a rename keeps the members"
        if self._has(client, Capability.delete_segment):
            client.segments.delete(created.id)
            with pytest.raises(NotFoundError):
                client.segments.get(created.id)

    def test_recipients_add_list_remove_round_trip(
        self, platform: FakePlatform, client: Client
    ) -> None:
        first, *rest = self.recipients(client.channel)
        sid = platform.seed_segment("contract members", [first])
        result = client.recipients.add(sid, [*rest, first])
        assert [o.status for o in result] == [OutcomeStatus.added] * len(rest) + [
            OutcomeStatus.unchanged
        ]
        ident = client.channel
        listed = sorted(r.identity(ident) or "" for r in client.recipients.list(sid))
        assert listed == sorted(r.identity(ident) or "" for r in [first, *rest])
        removed = client.recipients.remove(sid, [rest[0], rest[0].identity(ident)])
        assert [o.status for o in removed] == [OutcomeStatus.removed, OutcomeStatus.unchanged]
        left = sorted(platform.member_identities(sid))
        assert left == sorted(r.identity(ident) or "" for r in [first, *rest[1:]])

    def test_invalid_recipient_rejected_before_any_request(
        self, server: FakeServer, client: Client
    ) -> None:
        if not self._has(client, Capability.add_recipients):
            pytest.skip("adapter cannot add recipients")
        bad = "not-a-phone" if client.channel == "sms" else "not-an-email"
        before = len(server.log)
        result = client.recipients.add("1", [bad])
        assert [o.status for o in result] == [OutcomeStatus.rejected]
        assert result.items[0].reason
        assert len(server.log) == before, "nothing was sent"

    @pytest.mark.parametrize("exc_class", all_requests_exceptions(), ids=lambda c: c.__name__)
    def test_every_requests_exception_becomes_transport_error(
        self, client: Client, monkeypatch: pytest.MonkeyPatch, exc_class: type[Exception]
    ) -> None:
        def boom(*args: Any, **kwargs: Any) -> Any:
            if issubclass(exc_class, requests.exceptions.JSONDecodeError):
                raise exc_class("injected", "", 0)  # its constructor wants (msg, doc, pos)
            raise exc_class("injected")

        monkeypatch.setattr(client.adapter.transport.session, "request", boom)
        with pytest.raises(TransportError) as info:
            client.segments.get("1")
        assert isinstance(info.value.__cause__, exc_class)

    def test_malformed_body_raises_unexpected_response(
        self, server: FakeServer, platform: FakePlatform
    ) -> None:
        sid = platform.seed_segment("contract malformed", [])
        server.faults.add("malformed_json", 1.0, methods=("GET",))
        with server.client(**_fast(max_retries=1)) as c, pytest.raises(UnexpectedResponseError):
            c.segments.get(sid)

    def test_html_500_page_raises_server_error(
        self, server: FakeServer, platform: FakePlatform
    ) -> None:
        sid = platform.seed_segment("contract html", [])
        server.faults.add("html500", 1.0, methods=("GET",))
        with server.client(**_fast(max_retries=1)) as c, pytest.raises(ServerError) as info:
            c.segments.get(sid)
        assert "<html" not in str(info.value).lower(), "an excerpt, not the page"

    @pytest.mark.parametrize("kind", ["429", "503", "reset", "truncated"])
    def test_transient_fault_on_read_is_retried_and_succeeds(
        self, server: FakeServer, client: Client, kind: str
    ) -> None:
        sid = server.platform.seed_segment("contract retry", [])
        server.faults.add(kind, 1.0, methods=("GET",), limit=1)
        assert client.segments.get(sid).id == sid
        assert client.stats.retries >= 1

    def test_applied_then_lost_write_leaves_exactly_one_copy(
        self, server: FakeServer, client: Client
    ) -> None:
        if not self._has(client, Capability.add_recipients):
            pytest.skip("adapter cannot add recipients")
        first, second, *_ = self.recipients(client.channel)
        sid = server.platform.seed_segment("contract lost", [first])
        server.faults.add("applied_then_lost", 1.0, methods=("POST", "PUT", "PATCH"), limit=1)
        result = client.recipients.add(sid, [second])
        assert [o.status for o in result] == [OutcomeStatus.added]
        ident = second.identity(client.channel)
        assert server.platform.member_identities(sid).count(ident or "") == 1

    def test_no_secret_in_logs_events_errors_or_reprs(
        self, server: FakeServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        events: list[Any] = []
        secrets = _secret_values(server)
        assert secrets, "the fake's DSN carries credentials"
        caplog.set_level(logging.DEBUG, logger="segmentkit")
        server.faults.add("503", 1.0, methods=("GET",), limit=1)
        texts: list[str] = []
        with connect(server.dsn(), on_event=events.append, **_fast()) as c:
            sid = server.platform.seed_segment("contract secrets", [])
            c.segments.get(sid)
            texts += [repr(c), repr(c.adapter), str(c.adapter.credentials)]
            try:
                c.segments.get("987654321")
            except SegmentkitError as exc:
                texts += [str(exc), repr(exc), str(getattr(exc, "raw_body", ""))]
        with connect(server.platform.bad_dsn(server.base_url), **_fast()) as bad:
            try:
                bad.segments.get("1")
            except SegmentkitError as exc:
                texts += [str(exc), repr(exc), repr(bad)]
        texts += [r.getMessage() for r in caplog.records]
        texts += [repr(e) for e in events]
        texts.append(server.log.text())
        blob = "\n".join(texts)
        assert events, "events were emitted"
        for secret in secrets:
            assert secret not in blob

    def test_declared_capabilities_match_working_operations(
        self, server: FakeServer, client: Client
    ) -> None:
        sid = server.platform.seed_segment("contract caps", self.recipients(client.channel)[:1])
        assert Capability.list_segments in client.capabilities
        assert Capability.get_segment in client.capabilities
        probes: dict[Capability, Callable[[], object]] = {
            Capability.list_recipients: lambda: list(client.recipients.list(sid)),
            Capability.add_recipients: lambda: client.recipients.add(
                sid, self.recipients(client.channel)[1:2]
            ),
            Capability.remove_recipients: lambda: client.recipients.remove(
                sid, self.recipients(client.channel)[1:2]
            ),
        }
        for cap, probe in probes.items():
            if cap in client.capabilities:
                probe()  # must work
            else:
                before = len(server.log)
                with pytest.raises(UnsupportedOperationError):
                    probe()
                assert len(server.log) == before

    def test_list_and_get_agree(self, client: Client) -> None:
        """Read-only; also runs live."""
        for seg in client.segments.list():
            assert client.segments.get(seg.id).id == seg.id
            break


def _secret_values(server: FakeServer) -> list[str]:
    """The secrets the fake's default account uses (from its DSN's credentials)."""
    from segmentkit.config import parse_dsn

    return [c for c in parse_dsn(server.dsn()).credentials if c]
