"""Serving a fake platform: on a real loopback socket, or in-process through ``responses``.

Both modes dispatch into the same WSGI application, so a test sees identical behaviour; pick
one with ``mode="socket"`` or ``mode="responses"``. Every ``responses``-mode fake running at
the same time shares one ``responses.RequestsMock`` (each on its own ``*.fake.test`` host), so
several coexist in one test — a copy from an SMS fake to an email fake, say.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import re
import socket
import threading
from typing import IO, TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import requests

try:
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
    from werkzeug.test import EnvironBuilder
    from werkzeug.wsgi import LimitedStream
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised by make dist-check
    raise ModuleNotFoundError(
        'segmentkit\'s fake platforms need the test kit: pip install "segmentkit[testing]"',
        name=_exc.name,
    ) from None

if TYPE_CHECKING:
    import responses

from ..client import Client, connect
from ..coordination import LocalCoordinator
from ..plugins import Registry, default_registry
from .app import DIRECTIVE, HTTP_VERSION, FakePlatform

__all__ = ["FakeServer", "Mode", "fake", "fake_class"]

Mode = Literal["socket", "responses"]
logging.getLogger("werkzeug").setLevel(logging.ERROR)


#: An unread request body up to this size is skipped so the connection can carry the next
#: request; a larger one closes the connection instead (the fake never reads without bound).
_DRAIN_LIMIT = 1 << 20
_NO_BODY = frozenset({204, 304})


class _QuietHandler(WSGIRequestHandler):
    """Serves one connection, HTTP/1.1 persistent: one handler thread answers request after
    request on it, as a real platform's server would, so a client's pooled connections are
    reused instead of paying a TCP connect and a new server thread per request.

    The connection closes when the client asks (``Connection: close``, HTTP/1.0), when a fake
    answers with another status-line protocol (66text's ``HTTP/1.0`` 500 pages, API-SPEC
    1.11c), when an answer's body does not match its ``Content-Length`` (the ``truncated``
    fault), when the body cannot be delimited otherwise, when a fault cut the socket, and after
    any error. No access log lines; a dropped connection (an injected fault) is not an error.
    """

    protocol_version = "HTTP/1.1"
    #: TCP_NODELAY: the headers and the body go out as separate writes; with Nagle's algorithm
    #: the body waits for the client's delayed ACK of the headers (~40 ms on Linux) on a
    #: persistent connection.
    disable_nagle_algorithm = True

    def log(self, type: str, message: str, *args: Any) -> None:
        return

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        track = getattr(self.server, "_track", None)
        if track is not None:
            track(self.connection, True)

    def finish(self) -> None:
        track = getattr(self.server, "_track", None)
        if track is not None:
            track(self.connection, False)
        super().finish()

    def send_response(self, code: int, message: str | None = None) -> None:
        # A fake may ask for another status-line protocol (HTTP_VERSION in the environ).
        version = getattr(self, "environ", {}).get(HTTP_VERSION)
        if version:
            self.protocol_version = version
            self.close_connection = True
        super().send_response(code, message)

    def run_wsgi(self) -> None:
        """Answer one request; werkzeug's own always sends ``Connection: close`` (and then
        waits 10 ms for stray request bytes), which cannot carry a next request."""
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body: Any = None
        if not environ.get("wsgi.input_terminated"):
            length = environ.get("CONTENT_LENGTH", "").strip()
            if length.isdigit():
                body = LimitedStream(cast(IO[bytes], self.rfile), int(length))
            elif length:
                self.close_connection = True  # an undelimited body: nothing after it is a request
                body = None
            else:
                body = io.BytesIO(b"")
            if body is not None:
                environ["wsgi.input"] = body
                environ["wsgi.input_terminated"] = True
        else:
            self.close_connection = True  # chunked request bodies are rare: no reuse after one
        head_request = environ["REQUEST_METHOD"] == "HEAD"
        state: dict[str, Any] = {"status": None, "headers": None, "sent": False}
        framing: dict[str, Any] = {"chunked": False, "length": None, "written": 0}

        def write(data: bytes) -> None:
            head = b""
            if not state["sent"]:
                state["sent"] = True
                status, headers = state["status"], state["headers"]
                assert status is not None, "write() before start_response"
                assert headers is not None, "write() before start_response"
                code_str, _, msg = status.partition(" ")
                code = int(code_str)
                self.send_response(code, msg)
                keys = set()
                for key, value in headers:
                    self.send_header(key, value)  # a "Connection: close" here closes it
                    keys.add(key.lower())
                    if key.lower() == "content-length" and value.strip().isdigit():
                        framing["length"] = int(value)
                bodiless = head_request or 100 <= code < 200 or code in _NO_BODY
                if "content-length" not in keys and not bodiless:
                    if self.protocol_version >= "HTTP/1.1" and self.request_version >= "HTTP/1.1":
                        framing["chunked"] = True
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.close_connection = True  # the body ends where the connection does
                if self.close_connection and "connection" not in keys:
                    self.send_header("Connection", "close")
                # The header block leaves with the first piece of the body, in one write.
                buffered = getattr(self, "_headers_buffer", None)
                if buffered is not None and self.request_version != "HTTP/0.9":
                    buffered.append(b"\r\n")
                    head = b"".join(buffered)
                    buffered.clear()
            if data:
                framing["written"] += len(data)
                if framing["chunked"]:
                    data = b"%x\r\n%s\r\n" % (len(data), data)
            if head or data:
                self.wfile.write(head + data)
            self.wfile.flush()

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            if exc_info:
                try:
                    if state["sent"]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            state["status"], state["headers"] = status, headers
            return write

        try:
            app_iter = self.server.app(environ, start_response)
            try:
                for data in app_iter:
                    write(data)
                if not state["sent"]:
                    write(b"")
                if framing["chunked"]:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
        except Exception:
            # A dropped connection (a fault cut it, the client went away) or a broken app: the
            # connection ends here, never carrying a half-written answer into the next one.
            self.close_connection = True
            if not state["sent"]:
                with contextlib.suppress(Exception):
                    state["status"], state["headers"] = (
                        "500 INTERNAL SERVER ERROR",
                        [("Content-Length", "0")],
                    )
                    write(b"")
            return
        declared = framing["length"]
        if declared is not None and not head_request and framing["written"] != declared:
            self.close_connection = True  # e.g. the truncated fault: the client sees it cut
        if not self.close_connection and body is not None and not _drain(body):
            self.close_connection = True


def _drain(body: Any) -> bool:
    """Skip what the app left unread of a request body; False when that is not possible
    within :data:`_DRAIN_LIMIT` (the connection must close)."""
    if isinstance(body, LimitedStream):
        if body.limit - body.tell() > _DRAIN_LIMIT:
            return False
        try:
            while not body.is_exhausted:
                if not body.read(64 * 1024):
                    return False
        except Exception:
            return False
    return True


class _Server:
    """What the socket server adds to werkzeug's: faults cut connections on purpose (not
    errors), and every open connection is known so :meth:`FakeServer.stop` can end persistent
    ones instead of leaving their threads waiting for a next request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.closed = False
        #: Connections accepted so far (each persistent one carries many requests).
        self.accepted = 0

    def track(self, sock: socket.socket, opened: bool) -> None:
        with self.lock:
            if not opened:
                self.open.discard(sock)
            elif self.closed:
                _shut(sock)
            else:
                self.open.add(sock)
                self.accepted += 1

    def close_all(self) -> None:
        with self.lock:
            self.closed = True
            socks, self.open = list(self.open), set()
        for sock in socks:
            _shut(sock)

    @staticmethod
    def handle_error(request: Any, client_address: Any) -> None:
        return  # faults cut connections on purpose


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _SharedMock:
    """The one ``responses.RequestsMock`` behind every running responses-mode fake; routes
    each request by host and stops when the last fake stops."""

    _PATTERN = re.compile(r"https://[A-Za-z0-9.-]+\.fake\.test(?::\d+)?/.*")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mock: responses.RequestsMock | None = None
        self._routes: dict[str, FakeServer] = {}

    def attach(self, server: FakeServer) -> str:
        """Register ``server`` and return the host it is reachable at."""
        import responses  # only responses mode needs it (the testing extra)

        with self._lock:
            base = f"{server.platform.provider}.fake.test"
            host, n = base, 1
            while host in self._routes:
                n += 1
                host = f"{server.platform.provider}-{n}.fake.test"
            if self._mock is None:
                mock = responses.RequestsMock(assert_all_requests_are_fired=False)
                mock.start()
                mock.add_passthru("http://127.0.0.1")
                mock.add_passthru("http://localhost")
                for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
                    mock.add_callback(method, self._PATTERN, callback=self._route)
                self._mock = mock
            self._routes[host] = server
            return host

    def detach(self, host: str) -> None:
        """Unregister ``host``; the mock stops with the last fake."""
        with self._lock:
            self._routes.pop(host, None)
            if not self._routes and self._mock is not None:
                self._mock.stop()
                self._mock.reset()
                self._mock = None

    def _route(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        host = (urlsplit(str(request.url or "")).hostname or "").lower()
        server = self._routes.get(host)
        if server is None:
            raise requests.exceptions.ConnectionError(f"no fake is running at {host} (stopped?)")
        return server._dispatch(request)


_SHARED = _SharedMock()


class FakeServer:
    """Runs one :class:`FakePlatform` and hands out clients for it.

    ``with FakeServer(platform, mode="socket") as srv: client = srv.client()``. In socket mode
    the server binds ``127.0.0.1`` on an ephemeral port in a daemon thread; in responses mode the
    shared ``responses.RequestsMock`` routes every request for :attr:`base_url`'s host
    (``<provider>.fake.test``, ``<provider>-2.fake.test``…) into the app.
    """

    def __init__(
        self, platform: FakePlatform, mode: Mode = "socket", *, registry: Registry | None = None
    ) -> None:
        if mode not in ("socket", "responses"):
            raise ValueError("mode must be 'socket' or 'responses'")
        self.platform = platform
        self.mode: Mode = mode
        self.registry = registry
        self._server: BaseWSGIServer | None = None
        self._conns: _Server | None = None
        self._thread: threading.Thread | None = None
        self._host: str | None = None
        self.base_url = ""
        self._clients: list[Client] = []
        self._coordinator = LocalCoordinator()

    # -- lifecycle

    def start(self) -> FakeServer:
        """Start serving; returns ``self``."""
        if self.mode == "socket":
            server = make_server(
                "127.0.0.1", 0, self.platform, threaded=True, request_handler=_QuietHandler
            )
            conns = _Server()
            server.handle_error = conns.handle_error  # type: ignore[method-assign]
            server._track = conns.track  # type: ignore[attr-defined]
            server.daemon_threads = True  # type: ignore[attr-defined]
            self._server = server
            self._conns = conns
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-{self.platform.provider}",
                daemon=True,
            )
            self._thread.start()
            host, port = str(server.server_address[0]), int(server.server_address[1])
            self.base_url = f"http://{host}:{port}{self.platform.base_path}"
        else:
            self._host = _SHARED.attach(self)
            self.base_url = f"https://{self._host}{self.platform.base_path}"
        return self

    def stop(self) -> None:
        """Stop serving and close every client handed out."""
        for c in self._clients:
            c.close()
        self._clients.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._conns is not None:
            # Persistent connections outlive serve_forever: end them, so their handler
            # threads stop and clients not handed out here see the server gone.
            self._conns.close_all()
            self._conns = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._host is not None:
            _SHARED.detach(self._host)
            self._host = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use

    @property
    def connections(self) -> int:
        """How many connections the socket server accepted so far (0 in responses mode)."""
        return self._conns.accepted if self._conns is not None else 0

    @property
    def log(self) -> Any:
        """The platform's :class:`RequestLog`."""
        return self.platform.log

    @property
    def faults(self) -> Any:
        """The platform's :class:`FaultInjector`."""
        return self.platform.faults

    def dsn(self, account: Any = None) -> str:
        """A DSN for ``account`` (the default account when ``None``)."""
        return self.platform.dsn_for(self.base_url, account)

    def client(self, account: Any = None, **options: Any) -> Client:
        """A connected :class:`Client` for ``account``; closed when the server stops.

        Tests get short timeouts and backoff by default (override with keywords).
        """
        defaults: dict[str, Any] = {
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "read_timeout": 2.0,
            "connect_timeout": 2.0,
            # Each fake is its own platform: its clients share a rate budget with each other,
            # not with every other fake of the test run that happens to use the same key.
            "coordination": self._coordinator,
        }
        defaults.update(options)
        c = connect(self.dsn(account), registry=self.registry or default_registry(), **defaults)
        self._clients.append(c)
        return c

    # -- responses mode

    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(str(request.url or ""))
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=request.method or "GET",
            headers=list(request.headers.items()),
            data=body or b"",
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        environ = builder.get_environ()
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda chunk: None

        # Called directly (not werkzeug's run_wsgi_app, which copies environ) so the fault
        # directive the platform leaves in environ comes back to us.
        app_iter = self.platform(environ, start_response)
        try:
            data = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        status, headers = captured["status"], captured["headers"]
        directive = environ.get(DIRECTIVE)
        if directive in ("reset", "applied_then_lost"):
            raise requests.exceptions.ConnectionError(
                ConnectionResetError(104, "Connection reset by peer (injected)")
            )
        if directive == "stall":
            raise requests.exceptions.ReadTimeout("injected stall")
        if directive == "truncated":
            raise requests.exceptions.ChunkedEncodingError(
                "Connection broken: IncompleteRead (injected)"
            )
        code = int(status.split(" ", 1)[0])
        return code, {k: v for k, v in headers if k.lower() != "content-length"}, data


def fake_class(provider: str, registry: Registry | None = None) -> type[FakePlatform]:
    """The fake platform class an adapter declares in ``Provider.fake`` (``module:Class``)."""
    cls = (registry or default_registry()).get(provider)
    if not cls.fake:
        raise LookupError(f"provider {provider!r} declares no fake (Provider.fake)")
    module, _, name = cls.fake.partition(":")
    fake_cls = getattr(importlib.import_module(module), name)
    if not (isinstance(fake_cls, type) and issubclass(fake_cls, FakePlatform)):
        raise TypeError(f"{cls.fake} is not a FakePlatform subclass")
    return fake_cls


def fake(
    provider: str,
    mode: Mode = "socket",
    *,
    registry: Registry | None = None,
    **platform_options: Any,
) -> FakeServer:
    """A (not yet started) :class:`FakeServer` for ``provider``'s fake, built with
    ``platform_options`` (seed, profile, …). Use it as a context manager."""
    platform = fake_class(provider, registry)(**platform_options)
    return FakeServer(platform, mode, registry=registry)


def free_port() -> int:
    """An unused loopback port (for tests that need a closed port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
