"""Small independent loopback HTTP servers for the hostile tests.

Written from API-SPEC.md, not from our fakes: a handler is a plain function from the request
to ``(status, headers, body)``, served by :mod:`http.server` on 127.0.0.1 in a thread. Every
request is recorded (method, path, headers) so tests can assert what reached the wire, or
that nothing did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], tuple[int, dict[str, str], bytes]]


@dataclass
class Loopback:
    """A running server: ``base`` is ``http://127.0.0.1:<port>``; ``seen`` its requests."""

    port: int
    seen: list[Seen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve(handler: Handler) -> Iterator[Loopback]:
    """Serve ``handler`` on a free loopback port for the duration of the block."""
    box: list[Loopback] = []

    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5  # a stuck client cannot hold a server thread for long

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            box[0].seen.append(seen)
            status, headers, payload = handler(seen)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 (http.server names)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
    server.daemon_threads = True
    box.append(Loopback(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def json_answer(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
    """An answer whose body is ``text`` (already JSON) with a JSON content type."""
    return status, {"Content-Type": "application/json"}, text.encode("utf-8")
