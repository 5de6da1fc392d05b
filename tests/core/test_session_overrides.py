"""Per-call ``timeout=`` and ``retries=`` (issue 16): each operation passes them explicitly to
a view of the client's session, for that call's requests only; the view shares the pool,
statistics, pacing and budget with the client."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

import segmentkit
from segmentkit import ConfigurationError, ServerError
from segmentkit.http import ResponseDeadlineError, Session
from segmentkit.membership import engine
from tests.hostile._servers import Request, respond, serve

KEY = "0verr1de-key-0123456789abcdef"


def _client(port: int, **opts: Any) -> segmentkit.Client:
    opts.setdefault("backoff_base", 0.0)
    opts.setdefault("backoff_max", 0.0)
    opts.setdefault("pacing", False)
    return segmentkit.connect(f"notificator+http://{KEY}@127.0.0.1:{port}/api/", **opts)


def _always_503(req: Request, conn: socket.socket) -> None:
    respond(conn, b'{"message": "down"}', status="503 Service Unavailable")


@pytest.mark.timeout(30)
def test_retries_applies_to_that_call_only() -> None:
    with serve(_always_503) as srv, _client(srv.port, max_retries=3) as client:
        with pytest.raises(ServerError):
            client.request("GET", "segments/1", retries=0)
        assert len(srv.requests) == 1
        with pytest.raises(ServerError):
            client.segments.get(1, retries=1)
        assert len(srv.requests) == 3
        with pytest.raises(ServerError):
            client.segments.delete(1, retries=2)
        assert len(srv.requests) == 6
        with pytest.raises(ServerError):
            client.segments.list(retries=0).to_list()
        assert len(srv.requests) == 7
        with pytest.raises(ServerError):
            client.recipients.list(1, retries=0).to_list()
        assert len(srv.requests) == 8
        # The client's own setting is untouched: 1 + max_retries attempts.
        with pytest.raises(ServerError):
            client.segments.get(1)
        assert len(srv.requests) == 12
        assert client.stats.requests == 12, "the view counts into the client's statistics"
        assert client.stats.retries == 0 + 1 + 2 + 0 + 0 + 3


def _trickling_head(req: Request, conn: socket.socket) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"p" * 60
    try:
        for byte in head:
            conn.sendall(bytes([byte]))
            time.sleep(0.5)
    except OSError:
        pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize("timeout", [1.0, (2.0, 1.0)], ids=["seconds", "pair"])
def test_timeout_bounds_that_call(timeout: float | tuple[float, float]) -> None:
    # The client would allow 3 x 30 s per answer; this call allows 3 x 1 s.
    with serve(_trickling_head) as srv, _client(srv.port, read_timeout=30.0) as client:
        started = time.monotonic()
        with pytest.raises(ResponseDeadlineError):
            client.segments.get(1, timeout=timeout)
        took = time.monotonic() - started
        assert took < 15, f"took {took:.1f} s"
        assert len(srv.requests) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retries": -1},
        {"retries": 21},
        {"retries": True},
        {"retries": 1.5},
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("inf")},
        {"timeout": "5"},
        {"timeout": (1.0,)},
        {"timeout": (1.0, 0)},
    ],
)
def test_bad_overrides_are_refused_before_any_request(kwargs: dict[str, Any]) -> None:
    with serve(_always_503) as srv, _client(srv.port) as client:
        with pytest.raises(ConfigurationError):
            client.request("GET", "segments/1", **kwargs)
        with pytest.raises(ConfigurationError):
            client.segments.get(1, **kwargs)
        assert srv.requests == []


def test_without_overrides_the_client_session_is_used() -> None:
    client = _client(9)
    http: Session = client.adapter.http
    assert http.view() is http
    assert client._adapter_for(None, None) is client.adapter
    client.close()


def test_membership_operations_hand_the_engine_a_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """add/remove/sync/apply reach the engine with an adapter whose session is the view, and
    whose pool, stats, pacer and interrupt are the client's."""
    seen: list[Any] = []

    def capture(adapter: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(adapter)
        return None

    monkeypatch.setattr(engine, "add", capture)
    monkeypatch.setattr(engine, "remove", capture)
    monkeypatch.setattr("segmentkit.client.sync_segment", capture)
    monkeypatch.setattr("segmentkit.client.apply_plan", capture)
    client = _client(9, max_retries=3, read_timeout=30.0)
    phones = ["+393331234567"]
    client.recipients.add(1, phones, retries=0, timeout=2.0)
    client.recipients.remove(1, phones, retries=0, timeout=2.0)
    client.recipients.sync(1, phones, retries=0, timeout=2.0)
    client.recipients.apply(1, object(), retries=0, timeout=2.0)  # type: ignore[arg-type]
    assert len(seen) == 4
    base: Session = client.adapter.http
    for adapter in seen:
        assert adapter is not client.adapter
        view: Session = adapter.http
        assert view is not base
        assert view.policy.max_retries == 0
        assert view._timeout == (2.0, 2.0)
        assert view._deadline == 6.0
        assert view.stats is base.stats
        assert view.pacer is base.pacer
        assert view.transport is base.transport
        assert view._interrupted is base._interrupted
        assert adapter._lock is client.adapter._lock
    assert base.policy.max_retries == 3
    assert base._timeout is None
    client.close()
