"""The lean session's direct send (``_Adapter.send_direct``): the pool's ``urlopen`` without
``HTTPAdapter.send`` around it. Every failure must come out exactly as through ``requests``' own
path (same error class, same ``request_sent``, same exception chain), a caller's own
``requests.Session`` and anything that replaces ``HTTPAdapter.send`` (``responses``) must still
see every request, and the pool, proxy and TLS memo must never outlive what it remembers."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import requests.adapters

from segmentkit.errors import SegmentkitError
from segmentkit.http.transport import ClientOptions, Transport, _Adapter, _LeanSession
from segmentkit.redact import Redactor

Handler = Callable[[socket.socket], None]
_PATIENCE = 5.0  # the longest any server thread here waits for anything


class Loopback:
    """A raw loopback server running ``handler`` on every connection; records requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.release = threading.Event()  # stalled handlers wait on it (bounded)
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/thing"

    def read_request(self, conn: socket.socket) -> bool:
        """Read one request (head and Content-Length body); False at EOF."""
        conn.settimeout(_PATIENCE)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        self.heads.append(head)
        self.bodies.append(body)
        return True

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            self._conns.append(conn)
            thread = threading.Thread(target=self._one, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[Loopback]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            self._stop.set()
            thread.join(timeout=_PATIENCE)
            for conn in self._conns:  # idle keep-alive connections: end their handlers now
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            for t in self._threads:
                t.join(timeout=_PATIENCE)
            self.listener.close()


def _answer(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def keep_alive(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(_answer())

    return handle


def reset_after_request(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        if server.read_request(conn):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return handle


def close_without_answer(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        server.read_request(conn)

    return handle


def stall(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        if server.read_request(conn):
            server.release.wait(_PATIENCE)

    return handle


def truncated(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        if server.read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")

    return handle


def garbage(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        if server.read_request(conn):
            conn.sendall(b"NOT-HTTP AT ALL\r\n\r\n")

    return handle


def trickle(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        if server.read_request(conn):
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}":
                if server.release.wait(0.1):
                    return
                conn.sendall(bytes([byte]))

    return handle


def not_tls(server: Loopback) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(_PATIENCE)
        conn.recv(65536)  # the ClientHello
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    return handle


def _transport(session: requests.Session | None = None, **options: Any) -> Transport:
    opts = {"connect_timeout": 5.0, "read_timeout": 5.0, **options}
    return Transport(
        provider="t",
        options=ClientOptions(**opts),
        redactor=Redactor(),
        emit=None,
        session=session,
    )


def _chain(exc: BaseException | None) -> list[str]:
    """The exception and what it wraps (args[0], ``reason``, cause/context), as type names."""
    names: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(names) < 12:
        seen.add(id(exc))
        names.append(type(exc).__name__)
        reason = getattr(exc, "reason", None)
        nested = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = (
            reason
            if isinstance(reason, BaseException) and id(reason) not in seen
            else nested or exc.__cause__ or exc.__context__
        )
    return names


def _outcome(transport: Transport, url: str, write: bool) -> tuple[Any, ...]:
    try:
        response = transport.send(
            "POST" if write else "GET",
            url,
            headers={"X-Token": "abc"},
            data=b"a=1&b=2" if write else None,
            write=write,
        )
    except SegmentkitError as exc:
        return (
            type(exc).__name__,
            getattr(exc, "request_sent", None),
            _chain(exc.__cause__),
        )
    except OSError as exc:
        return ("raw", type(exc).__name__)
    return ("answer", response.status_code, response.content)


SCENARIOS = {
    "keep-alive": keep_alive,
    "reset after the request": reset_after_request,
    "closed without an answer": close_without_answer,
    "stalled answer": stall,
    "truncated answer": truncated,
    "not HTTP": garbage,
    "trickled past the deadline": trickle,
}


@pytest.mark.parametrize("write", [False, True], ids=["GET", "POST"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_failure_comes_out_as_through_requests_own_path(scenario: str, write: bool) -> None:
    # Short bounds only where the scenario needs them to end (a slow machine must not turn
    # an answer into a timeout): a read timeout for the stall, a deadline for the trickle.
    options: dict[str, float] = {"read_timeout": 5.0, "response_deadline": 10.0}
    if scenario == "stalled answer":
        options = {"read_timeout": 0.5, "response_deadline": 10.0}
    elif scenario == "trickled past the deadline":
        options = {"read_timeout": 5.0, "response_deadline": 1.0}
    outcomes = []
    for session in (None, requests.Session()):
        transport = _transport(session, **options)
        server = Loopback(lambda conn: None)
        server.handler = SCENARIOS[scenario](server)
        with server.running():
            first = _outcome(transport, server.url, write)
            second = _outcome(transport, server.url, write)  # a pooled or fresh connection
        transport.close()
        outcomes.append((first, second))
    lean, full = outcomes
    assert lean == full
    if scenario == "keep-alive":
        assert lean[0] == ("answer", 200, b'{"ok": true}')
    else:
        assert lean[0][0] in (
            "OutcomeUnknownError" if write else "ConnectionFailedError",
            "RequestTimeoutError",
            "ResponseDeadlineError",
            "OutcomeUnknownError",
        )
        assert lean[0][1] is True  # it left: a write is never blindly re-sent


@pytest.mark.parametrize("write", [False, True], ids=["GET", "POST"])
def test_a_refused_connection_is_known_not_to_have_been_sent(write: bool) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    url = f"http://127.0.0.1:{port}/v1/thing"
    outcomes = []
    for session in (None, requests.Session()):
        transport = _transport(session)
        outcomes.append(_outcome(transport, url, write))
        transport.close()
    lean, full = outcomes
    assert lean == full
    assert lean[0] == "ConnectionFailedError"
    assert lean[1] is False
    assert "NewConnectionError" in lean[2]


@pytest.mark.parametrize("write", [False, True], ids=["GET", "POST"])
def test_a_tls_failure_is_translated_like_requests_and_never_sent(write: bool) -> None:
    outcomes = []
    for session in (None, requests.Session()):
        transport = _transport(session)
        server = Loopback(lambda conn: None)
        server.handler = not_tls(server)
        with server.running():
            outcomes.append(_outcome(transport, f"https://127.0.0.1:{server.port}/x", write))
        transport.close()
    lean, full = outcomes
    assert lean == full
    assert lean[0] == "ConnectionFailedError"
    assert lean[1] is False
    assert lean[2][0] == "SSLError"


def test_a_missing_ca_bundle_raises_on_every_call_like_requests(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    results = []
    for session in (None, requests.Session()):
        transport = _transport(session, verify=str(bundle))
        bundle.unlink()
        for _ in range(2):
            results.append(_outcome(transport, "https://127.0.0.1:9/x", False))
        bundle.write_text("not a certificate")
        transport.close()
    assert results == [("raw", "OSError")] * 4


# ------------------------------------------------------------------ which path is taken


@pytest.fixture
def send_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap ``HTTPAdapter.send`` keeping its name (so it still counts as requests' own) and
    record every call."""
    calls: list[str] = []
    original = requests.adapters.HTTPAdapter.send

    @functools.wraps(original)
    def spy(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(request.url))
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    return calls


def test_the_lean_session_sends_without_httpadapter_send(send_calls: list[str]) -> None:
    transport = _transport()
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    with server.running():
        for _ in range(3):
            assert _outcome(transport, server.url, True)[0] == "answer"
    transport.close()
    assert send_calls == []
    assert server.connections == 1  # and the pooled connection is reused


def test_a_callers_own_session_still_goes_through_requests(send_calls: list[str]) -> None:
    transport = _transport(requests.Session())
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    with server.running():
        for _ in range(3):
            assert _outcome(transport, server.url, True)[0] == "answer"
    transport.close()
    assert send_calls == [server.url] * 3


def test_a_replaced_httpadapter_send_sees_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """``responses`` replaces ``HTTPAdapter.send``: the lean session must not go around it."""
    seen: list[str] = []

    def fake_send(self: Any, request: Any, **kwargs: Any) -> requests.Response:
        seen.append(str(request.url))
        response = requests.Response()
        response.status_code = 204
        response._content = b""
        response.request = request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    session = _LeanSession()
    session.mount("http://", _Adapter(max_retries=0))
    response = session.request("GET", "http://127.0.0.1:9/x", allow_redirects=False, stream=True)
    assert response.status_code == 204
    assert seen == ["http://127.0.0.1:9/x"]


def test_a_proxied_origin_takes_requests_path_and_its_proxy(send_calls: list[str]) -> None:
    transport = _transport()
    proxy = Loopback(lambda conn: None)
    proxy.handler = keep_alive(proxy)
    with proxy.running():
        transport.session.proxies["http"] = f"http://127.0.0.1:{proxy.port}"
        target = "http://origin.invalid/v1/thing"
        assert _outcome(transport, target, False)[0] == "answer"
        transport.session.proxies.clear()  # the memo notices the change
        assert _outcome(transport, proxy.url, False)[0] == "answer"
    transport.close()
    assert send_calls == [target]
    assert proxy.heads[0].startswith(b"GET http://origin.invalid/v1/thing HTTP/1.1")
    assert proxy.heads[1].startswith(b"GET /v1/thing HTTP/1.1")


def test_a_pool_closed_under_the_memo_is_looked_up_again() -> None:
    transport = _transport()
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    with server.running():
        assert _outcome(transport, server.url, False)[0] == "answer"
        adapter = transport.session.get_adapter(server.url)
        assert isinstance(adapter, _Adapter)
        adapter.poolmanager.clear()  # closes every pool (as its LRU eviction does)
        assert _outcome(transport, server.url, False)[0] == "answer"
        transport.close()  # forgets the memo as well
        assert adapter._direct == {}
        assert _outcome(transport, server.url, False)[0] == "answer"
    transport.close()
    assert server.connections == 3


def test_redirects_are_answers_never_followed() -> None:
    def handle(conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/steal\r\n"
                b"Content-Length: 0\r\n\r\n"
            )

    server = Loopback(lambda conn: None)
    server.handler = handle
    transport = _transport()
    with server.running():
        assert _outcome(transport, server.url, False) == ("answer", 302, b"")
    transport.close()
    assert len(server.heads) == 1


def test_the_request_on_the_wire_is_what_requests_would_send() -> None:
    """Same request line, same headers in the same order, same body (the multipart boundary
    aside, which is the session's own)."""
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    with server.running():
        for session in (None, requests.Session()):
            transport = _transport(session)
            transport.send(
                "POST",
                server.url + "?a=1",
                headers={"X-Token": "abc"},
                params={"b": "2"},
                json={"k": "v"},
                write=True,
            )
            transport.close()
    assert len(server.heads) == 2
    assert server.heads[0] == server.heads[1]
    assert server.bodies[0] == server.bodies[1] == b'{"k": "v"}'
    assert server.heads[0].startswith(b"POST /v1/thing?a=1&b=2 HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "v\r\nInjected: 1"}, {"X-A": " leading blank"}, {"Bad:Name": "v"}],
    ids=["CRLF in a value", "leading blank", "colon in a name"],
)
def test_a_header_requests_refuses_never_reaches_the_wire(headers: dict[str, str]) -> None:
    """The direct path writes headers without http.client's checks because requests' stricter
    ones already ran on them: nothing such must leave on either path."""
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    outcomes = []
    with server.running():
        for session in (None, requests.Session()):
            transport = _transport(session)
            try:
                transport.send("GET", server.url, headers=headers)
            except SegmentkitError as exc:
                outcomes.append((type(exc).__name__, exc.request_sent, _chain(exc.__cause__)))
            transport.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == ("ConnectionFailedError", False)
    assert server.heads == []


@pytest.mark.parametrize(
    "suffix",
    ["/v1/thing", "", "/", "/a//b/?x=1&y=%20z", "/a#fragment", "//double?q", "/é/ü?ö=1"],
)
def test_the_request_target_is_requests_own(suffix: str) -> None:
    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    with server.running():
        for session in (None, requests.Session()):
            transport = _transport(session)
            transport.send("GET", f"http://127.0.0.1:{server.port}{suffix}", headers={})
            transport.close()
    assert len(server.heads) == 2
    lines = [head.split(b"\r\n", 1)[0] for head in server.heads]
    assert lines[0] == lines[1]


def test_a_connection_back_in_the_pool_is_out_of_the_watchdogs_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3 gives the connection back as the answer's last byte is read, before the attempt
    is finished: a deadline passing in between must not shut down a socket that another
    attempt may already be using."""
    from segmentkit.http.transport import _Attempt

    original = _Attempt.finish

    def fire_then_finish(self: _Attempt) -> bool:
        if not self.done:
            self.cut()  # the watchdog, at the worst moment
        return original(self)

    server = Loopback(lambda conn: None)
    server.handler = keep_alive(server)
    transport = _transport()
    with server.running():
        monkeypatch.setattr(_Attempt, "finish", fire_then_finish)
        assert _outcome(transport, server.url, False)[0] == "ResponseDeadlineError"
        monkeypatch.setattr(_Attempt, "finish", original)
        assert _outcome(transport, server.url, False)[0] == "answer"
    transport.close()
    assert server.connections == 1  # the pooled connection was not cut
