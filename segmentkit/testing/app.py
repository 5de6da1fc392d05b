"""The base of every fake platform: a thread-safe, stateful WSGI application (werkzeug).

A fake subclasses :class:`FakePlatform`, registers handlers with :meth:`FakePlatform.route`,
and answers in the real platform's envelopes. The base class adds what every fake needs:
a lock around state, a :class:`RequestLog`, seeded fault injection (:mod:`.faults`) and a
fixed-window rate limiter. Serve it with :class:`segmentkit.testing.FakeServer` on a real
socket or through ``responses``.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response

from .faults import Fault, FaultInjector

__all__ = [
    "FakePlatform",
    "FixedWindowLimiter",
    "ManualClock",
    "RequestLog",
    "RequestRecord",
    "json_response",
]

Handler = Callable[..., Response]
MASK = "***"
DIRECTIVE = "segmentkit.fault_directive"  # environ key read by the responses transport
#: environ key read by the socket server: the status line's protocol (e.g. ``"HTTP/1.0"``).
HTTP_VERSION = "segmentkit.http_version"


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer with ``Content-Type: application/json``."""
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json",
    )


@dataclass(frozen=True)
class RequestRecord:
    """One request as the fake saw it. Secret headers and form fields are masked."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    duration: float
    fault: str | None
    at: float

    @property
    def is_write(self) -> bool:
        """POST/PUT/PATCH/DELETE."""
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


class RequestLog:
    """Every request a fake received, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        """A snapshot of the records."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record (e.g. after seeding, before the part a test measures)."""
        with self._lock:
            self._records.clear()

    def filter(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> list[RequestRecord]:
        """Records matching ``method`` and a ``path`` regex (searched) and ``status``."""
        pattern = re.compile(path) if path else None
        return [
            r
            for r in self.records
            if (method is None or r.method == method.upper())
            and (pattern is None or pattern.search(r.path))
            and (status is None or r.status == status)
        ]

    def count(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """How many records match (see :meth:`filter`)."""
        return len(self.filter(method, path, status))

    def writes(self) -> list[RequestRecord]:
        """Every write request."""
        return [r for r in self.records if r.is_write]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Any:
        return iter(self.records)

    def text(self) -> str:
        """Everything logged, as text (for "no secret leaked" assertions)."""
        return "\n".join(repr(r) for r in self.records)


class ManualClock:
    """A clock a test moves by hand (``clock()`` → seconds), for limiters and fakes that must
    cross a window edge without sleeping. Thread-safe."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Jump to ``when``."""
        with self._lock:
            self._now = when


class FixedWindowLimiter:
    """A per-key fixed window: opened by the first request, ``limit`` requests per ``window``
    seconds (the 66text limiter, API-SPEC 1.4); every request counts, refused ones too.

    ``whole_seconds=True`` models what the real server does (phpfastcache compares whole-second
    timestamps, API-SPEC 1.11c): a window opened at ``t0`` lasts until the first whole second
    after ``t0 + window`` (``floor(t0) + window + 1``), and the reported reset is
    ``floor(t0) + window - floor(now)`` whole seconds — ``0`` during the window's last partial
    second, which still refuses. ``window`` must then be a whole number of seconds; scaled-down
    windows (e.g. 30 per 3 s) work the same way. ``clock`` is injectable (e.g.
    :class:`ManualClock`); with ``whole_seconds`` it should be wall-clock-like (``time.time``),
    because the fraction of the second the window opened in decides its length.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        whole_seconds: bool = False,
    ) -> None:
        if whole_seconds and window != int(window):
            raise ValueError("a whole-second window needs a whole number of seconds")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.whole_seconds = whole_seconds
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining after it, seconds until the window ends —
        whole seconds as the server reports them with ``whole_seconds``)."""
        with self._lock:
            now = self.clock()
            if self.whole_seconds:
                second = float(math.floor(now))
                start, used = self._windows.get(key, (second, 0))
                if second > start + self.window:  # expired: expiry < time()
                    start, used = second, 0
                reset = start + self.window - second
            else:
                start, used = self._windows.get(key, (now, 0))
                if now - start >= self.window:
                    start, used = now, 0
                reset = max(0.0, start + self.window - now)
            used += 1
            self._windows[key] = (start, used)
            remaining = self.limit - used
            return remaining >= 0, remaining, reset

    def window_end(self, key: str) -> float | None:
        """When ``key``'s current window stops refusing (clock time), or None if none open."""
        with self._lock:
            if key not in self._windows:
                return None
            start, _ = self._windows[key]
            return start + self.window + (1 if self.whole_seconds else 0)

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._windows.clear()


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class FakePlatform:
    """Base class of fake platforms: a WSGI app with state, a lock, a log and faults.

    Subclasses set :attr:`provider` (the adapter name), :attr:`base_path` (e.g. ``"/api/"``),
    :attr:`secret_headers`/:attr:`secret_fields` for the log, implement :meth:`dsn_for`,
    :meth:`rate_limited` and :meth:`server_error`, and register handlers with
    ``self.route("GET", r"segments/(?P<segment_id>[^/]+)", self.get_segment)`` in
    :meth:`setup_routes`. A handler gets the werkzeug ``Request`` and the named groups.
    Handlers run under :attr:`lock`, so state changes are atomic.
    """

    provider: ClassVar[str] = ""
    base_path: ClassVar[str] = "/"
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = FaultInjector(seed)
        self._routes: list[_Route] = []
        self.setup_routes()

    # -- what subclasses provide

    def setup_routes(self) -> None:
        """Register handlers with :meth:`route`."""

    def dsn_for(self, base_url: str, account: Any = None) -> str:
        """A DSN that reaches ``base_url`` with ``account``'s credentials (default account
        when ``None``)."""
        raise NotImplementedError

    def bad_dsn(self, base_url: str) -> str:
        """A DSN for ``base_url`` whose credentials the platform rejects."""
        raise NotImplementedError

    def seed_segment(self, name: str, recipients: Iterable[Any] = ()) -> str:
        """Create a static segment (one the adapter can add to and remove from) holding
        ``recipients`` (``segmentkit.Recipient`` objects); return its id as a string. Part of
        the standard seeding protocol the contract suite uses."""
        raise NotImplementedError

    def member_identities(self, segment_id: str) -> list[str]:
        """The channel identities (E.164 phones or lower-cased emails) of a static segment's
        members, with repeats kept, so tests can assert "exactly once"."""
        raise NotImplementedError

    def segment_ids(self) -> list[str]:
        """Ids of every segment the default account can see."""
        raise NotImplementedError

    def rate_limited(self, retry_after: float) -> Response:
        """The platform's own 429 answer."""
        return json_response({"error": "rate limited"}, 429, {"Retry-After": f"{retry_after:g}"})

    def server_error(self, status: int) -> Response:
        """The platform's answer for a 5xx (HTML by default, as most stacks do)."""
        body = (
            f"<!DOCTYPE html><html><head><title>{status} Error</title></head>"
            f"<body><h1>{status}</h1><p>Internal server error</p></body></html>"
        )
        return Response(body, status=status, content_type="text/html; charset=utf-8")

    def not_found(self, request: Request) -> Response:
        """Answer for an unknown route or method."""
        return json_response({"error": "not found"}, 404)

    # -- routing

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Handle ``method`` on paths (below :attr:`base_path`) fully matching ``pattern``;
        trailing slashes are ignored."""
        self._routes.append(_Route(method.upper(), re.compile(pattern + "/?"), handler))

    def _find(self, method: str, path: str) -> tuple[Handler | None, dict[str, str]]:
        for r in self._routes:
            m = r.pattern.fullmatch(path)
            if m and r.method == method:
                return r.handler, m.groupdict()
        return None, {}

    def relative(self, path: str) -> str:
        """``path`` without :attr:`base_path`."""
        base = self.base_path.rstrip("/")
        return path[len(base) :].lstrip("/") if path.startswith(base) else path.lstrip("/")

    # -- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        # Receive the whole request first, as a server does before its handler runs: a fault
        # that cuts the connection must not also lose the body (and with it the log entry).
        with contextlib.suppress(ClientDisconnected):
            request.form  # noqa: B018 - parses and caches the body
        method = request.method.upper()
        rel = self.relative(request.path)
        latency, before, after = self.faults.decide(method, rel)
        for rule in latency:
            time.sleep(rule.seconds)
        fault_name: str | None = "latency" if latency else None
        if before is not None:
            fault_name = before.kind
            response = self._before_fault(before, environ)
        else:
            handler, params = self._find(method, rel)
            with self.lock:
                response = (
                    handler(request, **params) if handler is not None else self.not_found(request)
                )
            if after is not None:
                fault_name = after.kind
                response = self._after_fault(after, response, environ)
        self.log.append(self._record(request, response, started, fault_name))
        version = getattr(response, "http_version", None)
        if version:
            # A fake may answer with another status-line protocol (66text's HTML 500s are
            # ``HTTP/1.0`` + ``Connection: close``, API-SPEC 1.11c); the socket server reads it.
            environ[HTTP_VERSION] = version
        return response(environ, start_response)

    def _record(
        self, request: Request, response: Response, started: float, fault: str | None
    ) -> RequestRecord:
        def masked(md: MultiDict[str, str]) -> dict[str, list[str]]:
            return {
                k: [MASK if k.lower() in self.secret_fields else v for v in md.getlist(k)]
                for k in md
            }

        headers = {
            k: (MASK if k.lower() in self.secret_headers else v) for k, v in request.headers.items()
        }
        try:
            form = masked(request.form)
        except ClientDisconnected:
            form = {}
        return RequestRecord(
            method=request.method.upper(),
            path=self.relative(request.path),
            query=masked(request.args),
            form=form,
            headers=headers,
            status=response.status_code,
            duration=time.monotonic() - started,
            fault=fault,
            at=started,
        )

    def _before_fault(self, rule: Fault, environ: dict[str, Any]) -> Response:
        kind = rule.kind
        if kind == "429":
            return self.rate_limited(rule.retry_after)
        if kind == "html500":
            return self.server_error(500)
        if kind in ("502", "503", "504"):
            resp = self.server_error(int(kind))
            if kind == "503" and rule.retry_after:
                resp.headers["Retry-After"] = f"{rule.retry_after:g}"
            return resp
        if kind == "reset":
            return self._drop(environ, "reset")
        # stall: hold the answer longer than the client waits
        if "werkzeug.socket" in environ:
            time.sleep(rule.seconds or 1.0)
            return json_response({"stalled": True}, 200)
        environ[DIRECTIVE] = "stall"
        return Response(b"", status=200)

    def _after_fault(self, rule: Fault, response: Response, environ: dict[str, Any]) -> Response:
        kind = rule.kind
        body = response.get_data()
        if kind == "malformed_json":
            broken = b'{"data": [{"id": 1,, ' + body[:20]
            return Response(broken, status=200, content_type="application/json")
        if kind == "truncated":
            if "werkzeug.socket" not in environ:
                environ[DIRECTIVE] = "truncated"
                return response
            cut = Response(
                body[: max(1, len(body) // 2)],
                status=response.status_code,
                content_type=response.content_type,
            )
            cut.headers["Content-Length"] = str(len(body) + 10)
            return cut
        return self._drop(environ, "applied_then_lost")

    def _drop(self, environ: dict[str, Any], why: str) -> Response:
        sock = environ.get("werkzeug.socket")
        if sock is None:
            environ[DIRECTIVE] = why
            return Response(b"", status=200)
        # Cut the connection without an answer: the client sees the connection die.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return Response(b"", status=200)

    # -- helpers for subclasses

    @staticmethod
    def form(request: Request) -> MultiDict[str, str]:
        """The request's form fields (multipart or urlencoded)."""
        return request.form

    @staticmethod
    def new_key(rng: Any, length: int = 32) -> str:
        """A random lowercase hex key."""
        return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def utc_now() -> str:
    """The current UTC time as ``Y-m-d H:i:s``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
