"""Trust §4: bounded work whatever the server does — size, decompression, time, paging,
waits — driven through the public API against small loopback servers."""

from __future__ import annotations

import email.utils
import gzip
import json
import socket
import time
import urllib.parse
import zlib

import pytest

import segmentkit
from segmentkit import (
    OutcomeUnknownError,
    RateLimitError,
    TransportError,
    UnexpectedResponseError,
)
from segmentkit.http import ResponseDeadlineError, ResponseTooLargeError

from ._servers import Request, peak_rss_bytes, reset_peak_rss, respond, rss_bytes, serve

KEY = "k3y-0f-the-acc0unt-0123456789abcdef"
MB = 1024 * 1024
GROWTH_LIMIT = 64 * MB


def _connect(port: int, **opts: object) -> segmentkit.Client:
    return segmentkit.connect(f"notificator+http://{KEY}@127.0.0.1:{port}/api/", **opts)


def _growth(run: object) -> int:
    """Peak RSS growth while ``run()`` executes (VmHWM reset first when allowed)."""
    before = rss_bytes()
    reset_peak_rss()
    run()  # type: ignore[operator]
    return max(peak_rss_bytes(), rss_bytes()) - before


def _stream_zeros(total: int, *, length: bool) -> object:
    def handle(req: Request, conn: socket.socket) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {total}\r\n" if length else "Connection: close\r\n"
        try:
            conn.sendall(head.encode() + b"\r\n" + b'{"data": "')
            block = b"0" * MB
            for _ in range(total // MB):
                conn.sendall(block)
        except OSError:
            pass
        conn.close()

    return handle


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
def test_a_100_mb_answer_is_refused_without_holding_it(length: bool) -> None:
    with serve(_stream_zeros(100 * MB, length=length)) as srv, _connect(srv.port) as client:
        caught: list[BaseException] = []

        def run() -> None:
            try:
                client.request("GET", "segments/1")
            except ResponseTooLargeError as exc:
                caught.append(exc)

        grew = _growth(run)
        print(f"\n100 MB answer ({length=}): grew {grew / MB:.1f} MB")
        assert caught, "a library error past max_response_bytes"
        assert isinstance(caught[0], UnexpectedResponseError)
        assert grew < GROWTH_LIMIT, f"process grew {grew / MB:.1f} MB"
        assert len(srv.requests) == 1, "never retried"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_stops_at_the_decoded_cap(encoding: str) -> None:
    raw = b'{"data": "' + b"0" * (300 * MB)
    bomb = gzip.compress(raw, 9) if encoding == "gzip" else zlib.compress(raw, 9)
    del raw
    assert len(bomb) < 2 * MB

    def handle(req: Request, conn: socket.socket) -> None:
        respond(conn, bomb, headers={"Content-Encoding": encoding})

    with serve(handle) as srv, _connect(srv.port) as client:
        caught: list[BaseException] = []

        def run() -> None:
            try:
                client.request("GET", "segments/1")
            except ResponseTooLargeError as exc:
                caught.append(exc)

        grew = _growth(run)
        print(f"\n{encoding} bomb ({len(bomb)} bytes): grew {grew / MB:.1f} MB")
        assert caught
        assert grew < GROWTH_LIMIT, f"process grew {grew / MB:.1f} MB"


@pytest.mark.timeout(60)
def test_a_small_gzip_answer_is_decoded() -> None:
    def handle(req: Request, conn: socket.socket) -> None:
        respond(conn, gzip.compress(b'{"data": {"id": 7}}'), headers={"Content-Encoding": "gzip"})

    with serve(handle) as srv, _connect(srv.port) as client:
        assert client.request("GET", "segments/7") == {"data": {"id": 7}}


def _endless_chunks(req: Request, conn: socket.socket) -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    try:
        conn.sendall(head)
        piece = b"0" * 4096
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            conn.sendall(chunk)
            time.sleep(0.0005)
    except OSError:
        pass


@pytest.mark.timeout(60)
def test_an_endless_chunked_answer_is_cut_within_seconds() -> None:
    with serve(_endless_chunks) as srv, _connect(srv.port, read_timeout=2.0) as client:
        caught: list[BaseException] = []
        started = time.monotonic()

        def run() -> None:
            try:
                client.request("GET", "segments/1")
            except (ResponseTooLargeError, ResponseDeadlineError) as exc:
                caught.append(exc)

        grew = _growth(run)
        took = time.monotonic() - started
        name = type(caught[0]).__name__
        print(f"\nendless chunked: {name} after {took:.1f} s, grew {grew / MB:.1f} MB")
        assert caught, "a library error"
        assert took < 15, f"took {took:.1f} s"
        assert grew < GROWTH_LIMIT, f"process grew {grew / MB:.1f} MB"


def _trickle(req: Request, conn: socket.socket) -> None:
    body = b'{"data": {"id": 1, "name": "' + b"x" * 60 + b'"}}'
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    try:
        conn.sendall(head.encode())
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(0.9)
    except OSError:
        pass


@pytest.mark.timeout(60)
def test_a_trickling_answer_ends_with_a_library_error_within_seconds() -> None:
    with serve(_trickle) as srv, _connect(srv.port, read_timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            client.request("GET", "segments/1")
        took = time.monotonic() - started
        print(f"\ntrickle: {type(info.value).__name__} after {took:.1f} s")
        assert isinstance(info.value, ResponseDeadlineError)
        assert took < 15, f"took {took:.1f} s (the trickle lasts about 80 s)"
        assert len(srv.requests) == 1, "a hostile answer is not asked for again"


def _same_page_forever(req: Request, conn: socket.socket) -> None:
    seg = (
        b'{"id": 5, "user_id": 1, "name": "looping", "settings": {"phone_numbers": []},'
        b' "type": "bulk", "total_contacts": "0", "last_datetime": null,'
        b' "datetime": "2024-01-01 10:00:00"}'
    )
    body = (
        b'{"data": [' + seg + b'], "meta": {"page": 1, "total_pages": 1000000000,'
        b' "results_per_page": 10, "total_results": 10000000000},'
        b' "links": {"next": "http://x/api/segments?&page=2"}}'
    )
    respond(conn, body, headers={"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "99999"})


@pytest.mark.timeout(30)
def test_a_platform_repeating_one_page_stops_the_listing() -> None:
    with serve(_same_page_forever) as srv, _connect(srv.port) as client:
        seen: list[str] = []
        with pytest.raises(UnexpectedResponseError, match="repeats"):
            for seg in client.segments.list(page_size=10):
                seen.append(seg.id)
        assert seen == ["5"], "never the same item twice"
        assert len(srv.requests) == 2


def _far_future_429(headers: dict[str, str]) -> object:
    def handle(req: Request, conn: socket.socket) -> None:
        respond(
            conn,
            b'{"message": "Too Many Attempts."}',
            status="429 Too Many Requests",
            headers=headers,
        )

    return handle


FAR = time.time() + 30 * 86400


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "999999"},
        {"Retry-After": email.utils.formatdate(FAR, usegmt=True)},
        {"X-RateLimit-Limit": "60", "X-RateLimit-Reset": str(int(FAR))},
        {"X-RateLimit-Limit": "60", "X-RateLimit-Reset": "999999"},
    ],
    ids=["retry-after", "http-date", "reset-epoch", "reset-delta"],
)
def test_no_wait_exceeds_max_retry_wait(headers: dict[str, str]) -> None:
    with serve(_far_future_429(headers)) as srv, _connect(srv.port, max_retry_wait=0.5) as c:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            c.request("GET", "segments/1")
        assert time.monotonic() - started < 10
        assert info.value.retry_after is not None
        assert info.value.retry_after > 1000
        # A second call is refused by the pacer's memory of the 429, still without waiting.
        with pytest.raises(RateLimitError):
            c.request("GET", "segments/1")
        assert time.monotonic() - started < 10
        assert len(srv.requests) == 1


def _trickle_head(status: bytes = b"200 OK") -> bytes:
    body = b'{"data": {"id": 1}}'
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"X-Padding: " + b"p" * 80 + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _send_slowly(conn: socket.socket, data: bytes, gap: float = 0.5) -> None:
    """One byte every ``gap`` seconds: never a read-timeout gap, yet the whole head takes
    about a minute."""
    try:
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(gap)
    except OSError:
        pass


def _trickling_head(req: Request, conn: socket.socket) -> None:
    _send_slowly(conn, _trickle_head())


@pytest.mark.timeout(60)
def test_a_trickling_status_line_and_headers_end_within_the_deadline() -> None:
    with serve(_trickling_head) as srv, _connect(srv.port, read_timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            client.request("GET", "segments/1")
        took = time.monotonic() - started
        print(f"\ntrickling head: {type(info.value).__name__} after {took:.1f} s")
        assert isinstance(info.value, ResponseDeadlineError)
        assert took < 15, f"took {took:.1f} s (the head lasts about 60 s)"
        assert len(srv.requests) == 1, "a hostile answer is not asked for again"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["head", "body", "too-large", "cut"])
def test_a_write_without_a_whole_answer_has_an_unknown_outcome(how: str) -> None:
    def handle(req: Request, conn: socket.socket) -> None:
        if how == "head":
            _send_slowly(conn, _trickle_head(b"201 Created"))
        elif how == "body":
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\n\r\n")
            _send_slowly(conn, b"{" * 500)
        elif how == "too-large":
            respond(conn, b'{"data": "' + b"0" * (2 * MB) + b'"}')
        else:
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\n\r\n{")
            conn.close()

    opts: dict[str, object] = {"read_timeout": 1.0, "max_response_bytes": MB}
    with serve(handle) as srv, _connect(srv.port, **opts) as client:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknownError) as info:
            client.request("POST", "segments", data={"name": "x"})
        assert time.monotonic() - started < 15
        assert info.value.request_sent
        assert len(srv.requests) == 1, "a write of unknown outcome is never sent again blindly"


def _segment(ident: int, name: str) -> bytes:
    return json.dumps(
        {
            "id": ident,
            "user_id": 1,
            "name": name,
            "settings": {"phone_numbers": []},
            "type": "bulk",
            "total_contacts": "0",
            "last_datetime": None,
            "datetime": "2024-01-01 10:00:00",
        }
    ).encode()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["head", "too-large"])
def test_a_create_whose_answer_is_hostile_is_looked_up_not_resent(how: str) -> None:
    """66text create is a plain POST (API-SPEC 1.6): an answer that never arrives whole leaves
    its outcome unknown, so the call's lookup finds the segment instead of creating a twin."""
    names: dict[int, str] = {10: "older"}

    def handle(req: Request, conn: socket.socket) -> None:
        path = urllib.parse.urlsplit(req.target).path.rstrip("/")
        if req.method == "POST":
            form = urllib.parse.parse_qs(req.body.decode())
            names[max(names) + 1] = form["name"][0]
            if how == "head":
                _send_slowly(conn, _trickle_head(b"201 Created"))
            else:
                respond(conn, b'{"data": "' + b"0" * (2 * MB) + b'"}')
            return
        last = path.rsplit("/", 1)[-1]
        if last.isdigit():
            respond(conn, b'{"data": ' + _segment(int(last), names[int(last)]) + b"}")
            return
        items = b", ".join(_segment(i, n) for i, n in sorted(names.items(), reverse=True))
        meta = {"page": 1, "total_pages": 1, "results_per_page": 1000}
        meta["total_results"] = len(names)
        body = b'{"data": [' + items + b'], "meta": ' + json.dumps(meta).encode()
        respond(conn, body + b', "links": {"next": null}}')

    opts: dict[str, object] = {"read_timeout": 1.0, "max_response_bytes": MB}
    with serve(handle) as srv, _connect(srv.port, **opts) as client:
        seg = client.segments.create("fresh", recipients=["+393331234567"])
        posts = [r for r in srv.requests if r.method == "POST"]
        assert len(posts) == 1, "looked up, not sent again"
        assert seg.id == "11"
        assert seg.name == "fresh"
        assert len(names) == 2


def _contact(ident: int) -> dict[str, object]:
    return {"id": ident, "phone_number": f"+3933300000{ident:02d}", "name": "", "user_id": 1}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["create-lookup", "contacts"])
def test_a_page_served_forever_stops_adapter_lookups(where: str) -> None:
    """The same page with ``total_pages = 10**9`` stops create's name lookup (after a write of
    unknown outcome) and the contacts walk of adding members — not only ``segments.list``."""

    def handle(req: Request, conn: socket.socket) -> None:
        path = urllib.parse.urlsplit(req.target).path.rstrip("/")
        if req.method == "POST" and path.endswith("/segments"):
            respond(conn, b'{"message": "boom"}', status="500 Internal Server Error")
            return
        if path.endswith("/segments/5"):
            respond(conn, b'{"data": ' + _segment(5, "five") + b"}")
            return
        item = _contact(1) if path.endswith("/contacts") else json.loads(_segment(5, "fresh"))
        meta = {"page": 1, "total_pages": 10**9, "results_per_page": 1000}
        meta["total_results"] = 10**12
        body = {"data": [item], "meta": meta, "links": {"next": "http://x/api/y?page=2"}}
        respond(conn, json.dumps(body).encode())

    with serve(handle) as srv, _connect(srv.port, max_retries=1, backoff_max=0.0) as client:
        phones = [f"+3933312345{i:02d}" for i in range(8)]
        with pytest.raises(UnexpectedResponseError, match="repeats"):
            if where == "create-lookup":
                client.segments.create("fresh", recipients=phones[:1])
            else:
                # Members with a profile need contacts (API-SPEC 1.7): found by walking them.
                people = [{"phone": p, "first_name": "Ann"} for p in phones]
                result = client.recipients.add(5, people)
                # A bulk add reports per item; the loop must surface as the reason.
                reasons = {o.reason or "" for o in result.items}
                raise UnexpectedResponseError(" | ".join(sorted(reasons)))
        assert len(srv.requests) < 20, [r.target for r in srv.requests]


@pytest.mark.timeout(60)
def test_the_deadline_of_a_finished_answer_never_cuts_the_reused_connection() -> None:
    """Each answer's deadline runs out while its pooled connection already carries the next
    requests: none of them is cut."""

    def handle(req: Request, conn: socket.socket) -> None:
        time.sleep(0.05)
        respond(conn, b'{"data": {"id": 1}}')

    with serve(handle) as srv, _connect(srv.port, response_deadline=0.3) as client:
        for _ in range(30):
            assert client.request("GET", "segments/1") == {"data": {"id": 1}}
        assert len(srv.requests) == 30
        assert srv.connections == 1, "one kept-alive connection, never cut"
