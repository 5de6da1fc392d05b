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
    "RequestLog",
    "RequestRecord",
    "json_response",
]

Handler = Callable[..., Response]
MASK = "***"
DIRECTIVE = "segmentkit.fault_directive"  # environ key read by the responses transport


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


class FixedWindowLimiter:
    """A per-key fixed window: opened by the first request, ``limit`` requests per ``window``
    seconds (the 66text limiter, API-SPEC 1.4)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining after it, seconds until the window ends)."""
        with self._lock:
            now = self.clock()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            used += 1
            self._windows[key] = (start, used)
            remaining = self.limit - used
            reset = max(0.0, start + self.window - now)
            return remaining >= 0, remaining, reset


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
