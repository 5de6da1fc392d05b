"""Contract topic: transport failures, bad answers and retries."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from segmentkit import Client, ServerError, TransportError, UnexpectedResponseError

from ..app import FakePlatform
from ..server import FakeServer
from .fixtures import ProviderFixtures, all_requests_exceptions, fast_options

__all__ = ["FaultContract"]


class FaultContract(ProviderFixtures):
    """Every ``requests`` exception becomes a ``TransportError``; a malformed body an
    ``UnexpectedResponseError``; an HTML 500 page a ``ServerError`` with an excerpt; a
    transient fault on a read is retried and succeeds."""

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
        with (
            server.client(**fast_options(max_retries=1)) as c,
            pytest.raises(UnexpectedResponseError),
        ):
            c.segments.get(sid)

    def test_html_500_page_raises_server_error(
        self, server: FakeServer, platform: FakePlatform
    ) -> None:
        sid = platform.seed_segment("contract html", [])
        server.faults.add("html500", 1.0, methods=("GET",))
        with (
            server.client(**fast_options(max_retries=1)) as c,
            pytest.raises(ServerError) as info,
        ):
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
