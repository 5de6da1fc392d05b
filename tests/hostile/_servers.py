"""Small independent loopback servers for hostile tests (raw sockets in threads).

Written from API-SPEC, not from our fakes: a handler gets the parsed request and the socket
and writes whatever bytes it likes. Every server records what it received and stops cleanly.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Request:
    """One received request: method, target, lower-cased headers, body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""


Handler = Callable[[Request, socket.socket], None]


@dataclass
class Server:
    """A running loopback server; ``requests`` lists what it received."""

    port: int
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1_000_000:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = ([*lines[0].split(" ", 2), "", ""])[:3]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, target, headers, body)


@contextmanager
def serve(handler: Handler) -> Iterator[Server]:
    """Run ``handler`` for every request on a fresh loopback port until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    server = Server(port=listener.getsockname()[1])
    stop = threading.Event()

    def one(conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            while not stop.is_set():
                req = _read_request(conn)
                if req is None:
                    return
                server.requests.append(req)
                handler(req, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            server.connections += 1
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def respond(
    conn: socket.socket,
    body: bytes,
    *,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
) -> None:
    """Write one whole HTTP/1.1 answer with a Content-Length."""
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    hdrs.update(headers or {})
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    conn.sendall(head.encode("latin-1") + b"\r\n" + body)


def json_answer(payload: bytes = b'{"data": []}', **headers: str) -> Handler:
    """A handler answering every request with ``payload`` (200)."""

    def handle(req: Request, conn: socket.socket) -> None:
        respond(conn, payload, headers={k.replace("_", "-"): v for k, v in headers.items()})

    return handle


def rss_bytes() -> int:
    """Current resident set size of this process, from /proc (no psutil)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    """Peak resident set size (VmHWM) of this process."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
