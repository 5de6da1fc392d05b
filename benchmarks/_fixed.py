"""A loopback server returning fixed documents, the listing rows' server (issue 14's harness).

:func:`record` sends a call through segmentkit to a stateful fake, then fetches each answer
the call got once more; :class:`FixedServer` then answers every request for one of those
targets with that document, byte for byte, and costs next to no CPU per item. A listing timed
against it measures the client alone (the stateful fake re-builds and re-encodes its answers
on every request, in this process, which the ratio would otherwise share).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from ._harness import check

Target = tuple[str, tuple[tuple[str, str], ...]]


def target(path: str, query: list[tuple[str, str]]) -> Target:
    """A request target as the server compares it: the path, the query sorted."""
    return (path, tuple(sorted(query)))


@dataclass
class Recorded:
    """What :func:`record` captured: each target's answer and the headers to send."""

    answers: dict[Target, tuple[bytes, str]]
    headers: dict[str, str]
    order: list[Target]


def record(srv: Any, client: Any, call: Callable[[], Any]) -> Recorded:
    """Run ``call`` once through segmentkit against the fake ``srv``; fetch again the answer
    to each request it sent (GETs only: listings), and the headers to authenticate."""
    srv.log.clear()
    call()
    records = list(srv.log.records)
    check(len(records) >= 1, "the segmentkit call sent no request")
    check(all(r.method == "GET" for r in records), "a listing sent something else than GETs")
    headers = dict(client.adapter.transport.session.headers)
    headers.update(client.adapter.auth_headers())
    session = requests.Session()
    answers: dict[Target, tuple[bytes, str]] = {}
    order = []
    base = urlsplit(srv.base_url).path.rstrip("/")
    for r in records:
        query = [(k, v) for k, vs in r.query.items() for v in vs]
        resp = session.get(srv.base_url + r.path, params=query, headers=headers, timeout=60)
        check(resp.status_code == 200, f"recording {r.path}: HTTP {resp.status_code}")
        key = target(f"{base}/{r.path.lstrip('/')}", query)
        answers[key] = (resp.content, resp.headers.get("Content-Type", "application/json"))
        order.append(key)
    session.close()
    return Recorded(answers, headers, order)


class FixedServer:
    """HTTP/1.1 on 127.0.0.1 (keep-alive, a thread per connection) answering each recorded
    target with its document; anything else is a 404."""

    def __init__(self, answers: dict[Target, tuple[bytes, str]]) -> None:
        self._answers = {
            key: b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (ctype.encode("latin-1"), len(body), body)
            for key, (body, ctype) in answers.items()
        }
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def url(self, key: Target) -> str:
        """The absolute URL of a recorded target."""
        path, query = key
        qs = "&".join(f"{k}={v}" for k, v in query)
        return f"http://127.0.0.1:{self.port}{path}" + (f"?{qs}" if qs else "")

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        notfound = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                parts = urlsplit(head.split(b" ", 2)[1].decode("latin-1"))
                key = target(parts.path, parse_qsl(parts.query, keep_blank_values=True))
                conn.sendall(self._answers.get(key, notfound))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=1)

    def __enter__(self) -> FixedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
