"""The lean send path (issue 14: concurrent writes scale past 8 workers): one write per small
request, headers prepared once per set, no per-call environment merging, one place that sends
and counts (streamed listings included), and a deadline watchdog that is not woken per
request — each without giving up what the slower path guaranteed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

import segmentkit_allstech.provider
from segmentkit import create_registry
from segmentkit.events import Event, RequestSent, ResponseReceived
from segmentkit.http.transport import _Adapter, _Attempt, _LeanSession, _Watchdog
from segmentkit.http.transport import _WatchedHTTPConnection as Conn
from segmentkit.testing import FakeServer, fake


class RecordingSocket:
    """Stands in for a connected socket: records every ``sendall``."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def settimeout(self, value: Any) -> None:
        return

    def close(self) -> None:
        return


def _sent(body: Any) -> list[bytes]:
    conn = Conn("127.0.0.1", 9)
    sock = RecordingSocket()
    conn.sock = sock
    conn.request("POST", "/x", body=body, headers={"Content-Type": "application/octet-stream"})
    return sock.writes


def test_a_small_body_leaves_in_the_same_write_as_the_headers() -> None:
    writes = _sent(b"hello=world")
    assert len(writes) == 1
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /x HTTP/1.1\r\n")
    assert b"Content-Length: 11" in head
    assert body == b"hello=world"


def test_a_form_body_given_as_text_leaves_with_the_headers_too() -> None:
    writes = _sent("a=1&b=%C3%A9")
    assert len(writes) == 1
    assert writes[0].endswith(b"\r\n\r\na=1&b=%C3%A9")


def test_a_large_body_and_no_body_are_sent_as_before() -> None:
    big = b"x" * (200 * 1024)
    writes = _sent(big)
    assert len(writes) >= 2
    assert writes[0].endswith(b"\r\n\r\n")
    assert b"".join(writes[1:]) == big
    alone = _sent(None)
    assert len(alone) == 1
    assert alone[0].endswith(b"\r\n\r\n")


class RecordingAdapter(requests.adapters.HTTPAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response.request = request
        return response


def _lean() -> tuple[_LeanSession, RecordingAdapter]:
    session = _LeanSession()
    adapter = RecordingAdapter()
    session.mount("https://", adapter)
    return session, adapter


def test_lean_session_merges_and_validates_headers_like_requests() -> None:
    session, adapter = _lean()
    session.headers["User-Agent"] = "segmentkit/test"
    for _ in range(3):
        session.request(
            "post",
            "https://api.example.test/v1/x",
            headers={"Authorization": "Bearer t", "Accept": None},  # type: ignore[dict-item]
            data={"a": "1"},
            allow_redirects=False,
            stream=True,
        )
    first, *_, last = adapter.sent
    assert first.method == "POST"
    assert first.headers["User-Agent"] == "segmentkit/test"
    assert first.headers["Authorization"] == "Bearer t"
    assert "Accept" not in first.headers  # None removes a session header, as in requests
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert first.body == "a=1"
    assert "Cookie" not in first.headers
    # Each request owns its headers (the body's headers must not leak into the memo).
    assert first.headers is not last.headers
    session.headers["User-Agent"] = "changed"
    session.request("GET", "https://api.example.test/v1/x", allow_redirects=False, stream=True)
    assert adapter.sent[-1].headers["User-Agent"] == "changed"
    assert "Content-Type" not in adapter.sent[-1].headers


def test_lean_session_refuses_invalid_headers_like_requests() -> None:
    session, _ = _lean()
    with pytest.raises(requests.exceptions.InvalidHeader):
        session.request(
            "GET",
            "https://api.example.test/",
            headers={"X-Bad": "a\r\nInjected: yes"},
            allow_redirects=False,
            stream=True,
        )


def test_lean_session_prepares_params_and_falls_back_for_cookies() -> None:
    session, adapter = _lean()
    session.request(
        "GET",
        "https://api.example.test/v1/x",
        params={"page": 2, "q": "a b"},
        allow_redirects=False,
        stream=True,
    )
    assert adapter.sent[-1].url == "https://api.example.test/v1/x?page=2&q=a+b"
    session.cookies.set("sid", "abc", domain="api.example.test")
    session.request("GET", "https://api.example.test/v1/x", allow_redirects=False, stream=True)
    # A session with cookies of its own takes requests' full path, which sends them.
    assert adapter.sent[-1].headers.get("Cookie") == "sid=abc"


def test_the_environment_is_never_merged_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("merge_environment_settings called per request")

    monkeypatch.setattr(requests.Session, "merge_environment_settings", refuse)
    registry = create_registry(entry_points=False, plugins=[segmentkit_allstech.provider], env={})
    with fake("allstech", "socket", registry=registry) as srv:
        sid = str(srv.platform.add_segment("env"))  # type: ignore[attr-defined]
        with srv.client() as client:
            result = client.recipients.add(
                sid, [{"email": "e@example.com", "first_name": "F", "last_name": "L"}]
            )
    assert result.counts["added"] == 1


@pytest.fixture
def allstech_srv() -> Any:
    registry = create_registry(entry_points=False, plugins=[segmentkit_allstech.provider], env={})
    with fake("allstech", "socket", registry=registry) as srv:
        yield srv


def test_streamed_listings_are_sent_and_counted_by_the_one_send_path(
    allstech_srv: FakeServer,
) -> None:
    sid = str(allstech_srv.platform.add_segment("listing"))  # type: ignore[attr-defined]
    events: list[Event] = []
    with allstech_srv.client(on_event=events.append) as client:
        client.recipients.add(
            sid,
            [{"email": f"m{i}@example.com", "first_name": "F", "last_name": "L"} for i in range(3)],
        )
        before = client.stats.requests
        events.clear()
        members = list(client.recipients.list(sid))
        assert len(members) == 3
        assert client.stats.requests == before + 1
        assert client.stats.by_status[200] >= before + 1
    sent = [e for e in events if isinstance(e, RequestSent)]
    received = [e for e in events if isinstance(e, ResponseReceived)]
    assert [e.method for e in sent] == ["GET"]
    assert [e.status_code for e in received] == [200]


def test_a_streamed_listing_is_retried_through_the_same_pipeline(
    allstech_srv: FakeServer,
) -> None:
    sid = str(allstech_srv.platform.add_segment("retry"))  # type: ignore[attr-defined]
    allstech_srv.faults.add("503", 1.0, methods=("GET",), limit=1)
    with allstech_srv.client() as client:
        assert list(client.recipients.list(sid)) == []
        assert client.stats.retries == 1
        assert client.stats.by_status.get(503) == 1


def _wait_for(condition: Any, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()  # type: ignore[no-any-return]


def test_watchdog_still_cuts_an_attempt_due_before_the_one_it_sleeps_towards() -> None:
    dog = _Watchdog()
    late = _Attempt(time.monotonic() + 60.0, (1.0, 1.0), 60.0)
    dog.watch(late)
    assert _wait_for(lambda: dog._until == late.deadline)  # the thread sleeps towards it
    soon = _Attempt(time.monotonic() + 0.05, (1.0, 1.0), 0.05)
    dog.watch(soon)
    assert _wait_for(lambda: soon.fired), "the earlier deadline was not noticed"
    assert not late.fired
    late.finish()


def test_watchdog_heap_holds_only_what_is_in_flight() -> None:
    dog = _Watchdog()
    for _ in range(1000):
        attempt = _Attempt(time.monotonic() + 60.0, (1.0, 1.0), 60.0)
        dog.watch(attempt)
        attempt.finish()
    assert len(dog._heap) <= 2


def test_tls_settings_are_checked_once_and_a_missing_bundle_still_fails(
    tmp_path: Path,
) -> None:
    adapter = _Adapter()

    class Pool:
        pass

    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    for _ in range(2):
        pool: Any = Pool()
        adapter.cert_verify(pool, "https://api.example.test/", str(bundle), None)
        assert pool.cert_reqs == "CERT_REQUIRED"
        assert pool.ca_certs == str(bundle)
    for _ in range(2):  # a failure is not remembered as a success
        with pytest.raises(OSError, match="invalid path"):
            adapter.cert_verify(Pool(), "https://api.example.test/", str(tmp_path / "no"), None)
