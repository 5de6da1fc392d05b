"""The fake socket server keeps connections alive (HTTP/1.1), as a real platform does, so a
client's pooled connections carry request after request; every fault that cuts a connection
still cuts it, and a connection never carries a half-read request or answer into the next."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from segmentkit import create_registry
from segmentkit.testing import FakeServer, fake


def _session(srv: FakeServer) -> tuple[requests.Session, dict[str, str], str]:
    platform: Any = srv.platform
    return requests.Session(), {"X-Api-Key": platform.api_key}, srv.base_url


def test_sequential_requests_share_one_connection(sock_srv: FakeServer) -> None:
    with sock_srv.client() as client:
        for _ in range(5):
            list(client.segments.list())
    assert sock_srv.connections == 1
    assert len(sock_srv.log.records) >= 5


def test_concurrent_workers_reuse_their_connections() -> None:
    """A per-member store (allstech: one POST per member, API-SPEC 2.3) with 4 workers opens
    at most a connection per worker, not one per request."""
    import segmentkit_allstech.provider

    registry = create_registry(entry_points=False, plugins=[segmentkit_allstech.provider], env={})
    people = [
        {"email": f"p{i}@example.com", "first_name": "F", "last_name": "L"} for i in range(40)
    ]
    with fake("allstech", "socket", registry=registry) as srv:
        sid = str(srv.platform.add_segment("pool"))  # type: ignore[attr-defined]
        with srv.client(concurrency=4) as client:
            result = client.recipients.add(sid, people)
            sent = client.stats.requests
        connections = srv.connections
    assert result.counts["added"] == 40
    assert sent >= 41
    assert connections <= 4 + 1  # the workers' and the read's


def test_unread_request_body_is_skipped_and_the_connection_goes_on(
    sock_srv: FakeServer,
) -> None:
    session, headers, base = _session(sock_srv)
    with session:
        # An unknown route: the app never reads the body; the server must skip it, or the
        # next request on this connection would be parsed from the middle of it.
        lost = session.post(base + "nowhere", data=b"x" * 50_000, headers=headers, timeout=5)
        assert lost.status_code == 404
        ok = session.get(base + "segments", headers=headers, timeout=5)
        assert ok.status_code == 200
        assert ok.json() is not None
    assert sock_srv.connections == 1


def test_client_asking_to_close_gets_the_connection_closed(sock_srv: FakeServer) -> None:
    session, headers, base = _session(sock_srv)
    with session:
        first = session.get(base + "segments", headers={**headers, "Connection": "close"})
        assert first.headers.get("Connection", "").lower() == "close"
        session.get(base + "segments", headers=headers, timeout=5).raise_for_status()
    assert sock_srv.connections == 2


def test_truncated_answer_is_cut_and_the_connection_not_reused(sock_srv: FakeServer) -> None:
    sock_srv.faults.add("truncated", 1.0, methods=("GET",), limit=1)
    session, headers, base = _session(sock_srv)
    with session:
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            # Content-Length promises more than comes: the server must end the connection,
            # not leave the client waiting for the rest (or read the next answer as it).
            session.get(base + "segments", headers=headers, timeout=5).content  # noqa: B018
        session.get(base + "segments", headers=headers, timeout=5).raise_for_status()
    assert sock_srv.connections == 2


@pytest.mark.parametrize("kind", ["reset", "applied_then_lost"])
def test_dropping_faults_still_drop_the_connection(sock_srv: FakeServer, kind: str) -> None:
    sid = sock_srv.platform.seed_segment("drop", [])
    sock_srv.faults.add(kind, 1.0, methods=("POST",), limit=1)
    session, headers, base = _session(sock_srv)
    with session:
        with pytest.raises(requests.exceptions.ConnectionError):
            session.post(
                base + f"segments/{sid}/members",
                json={"members": [{"email": "a@example.com"}]},
                headers=headers,
                timeout=5,
            )
        session.get(base + "segments", headers=headers, timeout=5).raise_for_status()
    assert sock_srv.connections == 2


def test_stop_ends_idle_persistent_connections(sock_srv: FakeServer) -> None:
    platform: Any = sock_srv.platform
    host, port = sock_srv.base_url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.settimeout(5)
        sock.sendall(
            f"GET {platform.base_path}segments HTTP/1.1\r\nHost: {host}\r\n"
            f"X-Api-Key: {platform.api_key}\r\n\r\n".encode()
        )
        answer = b""
        for _ in range(100):
            if b"\r\n\r\n" in answer:
                break
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"connection: close" not in answer.lower()
        sock_srv.stop()
        # The idle connection is ended by stop(): the client sees EOF, not a hang.
        rest = b""
        for _ in range(100):
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        else:
            pytest.fail("the connection stayed open after stop()")
