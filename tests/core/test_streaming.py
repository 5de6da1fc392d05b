"""Streamed listings (issue 14): ``Session.get_items`` yields one big JSON list item by item
through the request pipeline, and allstech members (one unpaginated document, API-SPEC 2.3)
are listed through the public API in flat memory."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

import segmentkit
from segmentkit.errors import (
    AuthenticationError,
    NotFoundError,
    ServerError,
    UnexpectedResponseError,
)

Start = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return


class DocumentServer:
    """A loopback server answering every GET with a generated body (lazily, in chunks)."""

    def __init__(self) -> None:
        self.body: Callable[[], Iterable[bytes]] = lambda: [b"{}"]
        self.status = "200 OK"
        self.headers: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self._server = BaseWSGIServer("127.0.0.1", 0, self._app, handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _app(self, environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        self.requests.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
        start(self.status, [("Content-Type", "application/json"), *self.headers])
        return self.body()

    def __enter__(self) -> DocumentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def dsn(self) -> str:
        return f"allstech+http://pk:sk@127.0.0.1:{self._server.server_port}/api/"


def members_document(n: int, *, status_last: bool = False) -> Iterator[bytes]:
    """An allstech ``segment/email/list`` answer with ``n`` members, generated lazily."""
    if not status_last:
        yield b'{"status":"success","message":{"contactEmails":['
    else:
        yield b'{"message":{"contactEmails":['
    batch: list[str] = []
    for i in range(n):
        row = {
            "id": i + 1,
            "segment_id": 7,
            "contact_id": None,
            "first_name": "User",
            "last_name": f"Number {i}",
            "email": f"user{i:06d}@example.com",
            "country": "DE",
            "state": None,
            "city": "Berlin",
            "address_line1": None,
        }
        batch.append(json.dumps(row))
        if len(batch) == 500:
            yield (("," if i >= 500 else "") + ",".join(batch)).encode()
            batch = []
    if batch:
        yield (("," if n > len(batch) else "") + ",".join(batch)).encode()
    yield b']},"status":"success"}' if status_last else b"]}}"


@pytest.fixture
def server() -> Iterator[DocumentServer]:
    with DocumentServer() as srv:
        yield srv


def _client(srv: DocumentServer, **options: Any) -> segmentkit.Client:
    defaults: dict[str, Any] = {"backoff_base": 0.001, "backoff_max": 0.01, "read_timeout": 5.0}
    return segmentkit.connect(srv.dsn, **{**defaults, **options})


# ----------------------------------------------------------------------------- Session.get_items


def test_get_items_streams_a_long_list_in_order(server: DocumentServer) -> None:
    server.body = lambda: members_document(5_000)
    with _client(server) as client:
        items = client.adapter.http.get_items(
            "segment/email/list", params={"segment_id": 7}, prefix="message.contactEmails.item"
        )
        emails = [row["email"] for row in items]
    assert emails == [f"user{i:06d}@example.com" for i in range(5_000)]
    assert server.requests == ["/api/segment/email/list?segment_id=7"]


def test_get_items_with_status_after_message_streams_too(server: DocumentServer) -> None:
    """Key order is the server's (API-SPEC 2.2): ``status`` may follow ``message``."""
    server.body = lambda: members_document(3_000, status_last=True)
    with _client(server) as client:
        items = client.adapter.http.get_items(
            "segment/email/list", prefix="message.contactEmails.item"
        )
        assert sum(1 for _ in items) == 3_000


def test_get_items_small_answer_is_decoded_whole(server: DocumentServer) -> None:
    server.body = lambda: members_document(2)
    with _client(server) as client:
        items = list(client.adapter.http.get_items("x", prefix="message.contactEmails.item"))
    assert [i["id"] for i in items] == [1, 2]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # HTTP-200 failure envelopes (API-SPEC 2.2, 2.7), "status" first or last.
        (b'{"status":"failed","errors":"Record not found"}', NotFoundError),
        (b'{"errors":"Record not found","status":"failed"}', NotFoundError),
        (b'{"status":"failed","errors":{"PublicKey":["bad"]}}', AuthenticationError),
        (b'{"errors":"SQLSTATE[HY000]: gone away","status":"failed"}', UnexpectedResponseError),
        (b"not json at all", UnexpectedResponseError),
    ],
)
def test_get_items_failed_envelopes_raise_before_any_item(
    server: DocumentServer, body: bytes, error: type[Exception]
) -> None:
    server.body = lambda: [body]
    with _client(server) as client:
        items = client.adapter.http.get_items("x", prefix="message.contactEmails.item")
        with pytest.raises(error):
            next(items)


def test_get_items_non_2xx_is_classified_and_retried(server: DocumentServer) -> None:
    server.status = "503 Service Unavailable"
    server.body = lambda: [b'{"message":"Server Error"}']
    with _client(server, max_retries=2) as client:
        items = client.adapter.http.get_items("x", prefix="message.item")
        with pytest.raises(ServerError):
            next(items)
    assert len(server.requests) == 3  # a GET: retried like any other


def test_get_items_caps_each_item_not_the_whole_list(server: DocumentServer) -> None:
    huge = b'{"status":"success","message":{"contactEmails":[{"email":"' + b"a" * 300_000
    server.body = lambda: [huge, b'"}]}}']
    with _client(server) as client:
        items = client.adapter.http.get_items(
            "x", prefix="message.contactEmails.item", max_item_bytes=100_000
        )
        with pytest.raises(UnexpectedResponseError, match="larger than"):
            list(items)


def test_get_items_total_size_is_not_capped_when_streamed(server: DocumentServer) -> None:
    server.body = lambda: members_document(20_000)  # ~4 MB, over a 1 MB answer cap
    with _client(server, max_response_bytes=1_000_000) as client:
        items = client.adapter.http.get_items("x", prefix="message.contactEmails.item")
        assert sum(1 for _ in items) == 20_000


def test_get_items_cut_short_is_an_error_after_the_items(server: DocumentServer) -> None:
    def cut() -> Iterator[bytes]:
        doc = members_document(2_000)
        for _ in range(3):
            yield next(doc)

    server.body = cut
    with _client(server) as client:
        seen = 0
        with pytest.raises(UnexpectedResponseError):
            for _ in client.adapter.http.get_items("x", prefix="message.contactEmails.item"):
                seen += 1
    assert seen > 0


# ----------------------------------------------------------------------------- public API memory


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


def _growth(server: DocumentServer, n: int) -> tuple[int, int]:
    """(members listed, RSS growth in bytes) for ``client.recipients.list`` of ``n``."""
    server.body = lambda: members_document(n)
    with _client(server) as client:
        gc.collect()
        base = _rss()
        peak = base
        count = 0
        for member in client.recipients.list("7"):
            count += 1
            if count % 5_000 == 0:
                peak = max(peak, _rss())
            assert member.email
        peak = max(peak, _rss())
    return count, peak - base


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="Linux RSS")
def test_a_200k_member_segment_is_listed_in_flat_memory(server: DocumentServer) -> None:
    """Issue 14: 200,000 members through ``client.recipients.list`` grow memory by at most
    64 MiB, and not by much more than 50,000 members do."""
    count_50k, growth_50k = _growth(server, 50_000)
    count_200k, growth_200k = _growth(server, 200_000)
    print(f"\nRSS growth: 50k {growth_50k / 2**20:.1f} MiB, 200k {growth_200k / 2**20:.1f} MiB")
    assert (count_50k, count_200k) == (50_000, 200_000)
    assert growth_200k <= 64 * 2**20
    # Flat through the public API too: the page walk remembers no item of a streamed answer
    # (segmentkit.http.paging.walk_pages; it kept ~150 B a member before).
    assert growth_200k <= growth_50k + 8 * 2**20


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="Linux RSS")
def test_the_adapter_pages_of_200k_members_hold_one_page_at_a_time(
    server: DocumentServer,
) -> None:
    """The adapter's side alone (stream -> pages) is flat: no growth with the length."""
    server.body = lambda: members_document(2_500)
    with _client(server) as client:
        list(client.recipients.list("7").pages())  # warm up imports and pools (3 pages)
        server.body = lambda: members_document(200_000)
        gc.collect()
        base = _rss()
        peak, token, count = base, None, 0
        for _ in range(1_000):
            page = client.adapter.list_recipients("7", token)
            count += len(page.items)
            peak = max(peak, _rss())
            token = page.next_page
            if token is None:
                break
    print(f"\nadapter pages, 200k: RSS growth {(peak - base) / 2**20:.1f} MiB")
    assert count == 200_000
    assert peak - base <= 16 * 2**20


# ----------------------------------------------------------------- Provider.stream_pages


def test_a_streamed_listing_is_served_as_pages_of_one_open_answer(server: DocumentServer) -> None:
    server.body = lambda: members_document(2_500)
    with _client(server) as client:
        sizes = [len(page.items) for page in client.recipients.list("7").pages()]
    assert sizes == [1_000, 1_000, 500]
    assert len(server.requests) == 1  # one answer, read as it is consumed


def test_listings_left_half_read_are_closed_after_four(server: DocumentServer) -> None:
    server.body = lambda: members_document(2_500)
    with _client(server) as client:
        listings = [client.recipients.list("7").pages() for _ in range(5)]
        for pages in listings:
            assert len(next(pages).items) == 1_000
        with pytest.raises(UnexpectedResponseError, match="left unread"):
            next(listings[0])  # the oldest stream was closed to free its connection
        assert len(next(listings[4]).items) == 1_000  # the newest is still open
