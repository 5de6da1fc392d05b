"""One HTTP attempt over a ``requests.Session``: TLS, proxies, timeouts, User-Agent, bounded
reading of the answer, and translation of ``requests`` failures into the error tree.

Nothing here retries, paces or sleeps: that is :class:`segmentkit.http.session.Session`.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.sessions
import requests.structures
import requests.utils
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..coordination import Coordinator
from ..errors import (
    ConfigurationError,
    ConnectionFailedError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TransportError,
    UnexpectedResponseError,
    translate_requests_error,
)
from ..events import Event
from ..redact import Redactor, get_logger
from ._headers import FastHTTPResponse
from ._multipart import encode_text_form, new_boundary

__all__ = [
    "ClientOptions",
    "ResponseDeadlineError",
    "ResponseTooLargeError",
    "Stats",
    "Transport",
]

log = get_logger("segmentkit.http")
_FALSY = frozenset({"false", "0", "no", "off", ""})
_CHUNK = 64 * 1024
#: Largest piece inflated at once: zlib grows its output buffer by doubling, so one big call
#: would briefly hold twice what it returns.
_INFLATE_STEP = 256 * 1024
#: Default cap on the bytes of one answer, after decompression (see ``max_response_bytes``).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ResponseTooLargeError(UnexpectedResponseError):
    """Raised when an answer (after gzip/deflate decoding) exceeds ``max_response_bytes``.

    Never retried: a server that sends too much once will do it again.
    """


class ResponseDeadlineError(RequestTimeoutError):
    """Raised when an answer did not arrive whole within ``response_deadline`` seconds (a
    trickling or endless answer). Never retried, for the same reason."""


class ClientOptions(BaseModel):
    """Options every client accepts (``connect(..., timeout=10, max_retries=5)``).

    A misspelt option is an error, not silently ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    connect_timeout: float = Field(5.0, gt=0, description="seconds to establish a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for each read")
    response_deadline: float | None = Field(
        None,
        gt=0,
        description="total seconds one answer may take to arrive whole (default 3 x read_timeout)",
    )
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES,
        ge=1024,
        description="largest answer accepted, in bytes after decompression (default 32 MiB)",
    )
    max_retries: int = Field(3, ge=0, le=20, description="retries after the first attempt")
    backoff_base: float = Field(0.5, ge=0, description="first backoff delay, seconds")
    backoff_max: float = Field(8.0, ge=0, description="largest backoff delay, seconds")
    max_retry_wait: float = Field(
        90.0,
        ge=0,
        description="longest single wait (Retry-After, pacing, shared budget); past it "
        "RateLimitError is raised carrying retry_after",
    )
    pacing: bool = Field(True, description="space requests to stay under advertised limits")
    rate_limit_window: float | None = Field(
        None, gt=0, description="override the platform's rate-limit window, seconds"
    )
    concurrency: int = Field(8, ge=1, le=64, description="parallel requests in bulk operations")
    verify: bool | str = Field(True, description="TLS verification; a CA bundle path is allowed")
    user_agent: str | None = None
    coordination: str | Coordinator | None = Field(
        None,
        description="who shares rate budgets and locks: 'local', 'host', 'redis://…', or a "
        "Coordinator; None reads SEGMENTKIT_COORDINATION, else the default backend",
    )

    def model_post_init(self, __context: Any) -> None:
        if self.verify is False or (
            isinstance(self.verify, str) and self.verify.strip().lower() in _FALSY
        ):
            raise ConfigurationError(
                "TLS verification cannot be turned off; pass a CA bundle path as verify=..."
            )
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise ConfigurationError(f"verify={self.verify!r}: no CA bundle at that path")

    @property
    def deadline(self) -> float:
        """The total deadline of one answer, seconds."""
        return self.response_deadline or 3.0 * self.read_timeout


@dataclass
class Stats:
    """Counters a client keeps: requests sent, retries, 429s seen, seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    paced_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        with self._lock:
            self.requests += 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1
                if status == 429:
                    self.rate_limited += 1

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def add_wait(self, seconds: float) -> None:
        with self._lock:
            self.paced_seconds += seconds


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Attempt:
    """The total deadline of one attempt, and the socket its answer arrives on.

    Bounds what per-read timeouts cannot: a server trickling its status line, headers or body
    one byte per second never lets a single read time out. Past the deadline the watchdog
    shuts the socket down, so whatever read is blocked returns at once.
    """

    __slots__ = ("deadline", "done", "fired", "lock", "seconds", "sock", "timeout")

    def __init__(self, deadline: float, timeout: tuple[float, float], seconds: float) -> None:
        self.deadline = deadline
        #: The (connect, read) timeouts and total deadline (seconds) this attempt runs with.
        self.timeout = timeout
        self.seconds = seconds
        self.sock: socket.socket | None = None
        self.done = False
        self.fired = False
        self.lock = threading.Lock()

    def attach(self, sock: Any) -> None:
        """Called with the connection's socket just before its answer is read."""
        with self.lock:
            if self.done or not isinstance(sock, socket.socket):
                return
            self.sock = sock
            if self.fired:
                _cut(sock)

    def detach(self) -> None:
        """The connection goes back to the pool (urllib3 does so as the last byte of the
        answer is read, before :meth:`finish`): from now on the watchdog must not touch the
        socket, which another attempt may take at once."""
        with self.lock:
            self.sock = None

    def cut(self) -> None:
        """The deadline passed: mark it, and shut the socket down if the answer is pending."""
        with self.lock:
            if self.done:
                return
            self.fired = True
            if self.sock is not None:
                _cut(self.sock)

    def finish(self) -> bool:
        """The attempt is over (its socket may go back to the pool): never cut it from now
        on. Returns whether the deadline had already cut it."""
        with self.lock:
            self.done = True
            self.sock = None
            return self.fired


def _cut(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL object under
    # the thread still reading it; shutting the descriptor down makes that read see EOF.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the process that cuts attempts past their total deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        #: time.monotonic() the thread sleeps until (it wakes then whatever arrived since).
        self._until = float("-inf")

    def watch(self, attempt: _Attempt) -> None:
        with self._cond:
            heap = self._heap
            # Attempts end in about the order they start: drop the finished ones at the head
            # here, so the heap holds what is in flight, not every attempt of the last
            # deadline (the thread itself only wakes when the head's deadline passes).
            while heap and heap[0][2].done:
                heapq.heappop(heap)
            heapq.heappush(heap, (attempt.deadline, next(self._seq), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="segmentkit-deadline", daemon=True
                )
                self._thread.start()
            elif attempt.deadline < self._until:
                # Woken only when this deadline comes before the one it sleeps towards; with
                # one deadline per client that is rare, so a request costs no thread switch.
                self._until = attempt.deadline
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                heap = self._heap
                while heap and heap[0][2].done:
                    heapq.heappop(heap)
                if not heap:
                    self._until = time.monotonic() + 60.0
                    self._cond.wait(60.0)
                    if not self._heap:
                        self._thread = None  # idle a minute: the next watch() starts one
                        return
                    continue
                self._until = heap[0][0]
                left = self._until - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                attempt = heapq.heappop(heap)[2]
            attempt.cut()


_WATCHDOG = _Watchdog()
_CURRENT = threading.local()  # the _Attempt this thread is sending, for the connection below


#: A request body up to this size leaves in the same write as the headers.
_COALESCE = 64 * 1024


class _WatchedMixin:
    """The watchdog's hook (``getresponse``), and one write per small request: urllib3
    sends the header block and the body in two ``sendall`` calls (two packets, two wake-ups
    of the server, each a GIL round trip for the sending thread); here the header block is
    held back and leaves with the body. Nothing is reordered, dropped or sent twice: only the
    first two writes of a request with a small ``bytes`` or ``str`` body (JSON, a form) are
    joined."""

    sock: Any
    _hold = False
    _held: bytes | None = None
    #: This request comes from :meth:`_Adapter.send_direct`: its headers were validated by
    #: ``requests``' rules when the lean session prepared them (stricter than http.client's).
    _direct = False
    response_class: Any = http.client.HTTPResponse

    def request(
        self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any
    ) -> None:
        direct = self._direct = getattr(_CURRENT, "direct", False)
        self.response_class = FastHTTPResponse if direct else http.client.HTTPResponse
        self._hold = (
            isinstance(body, bytes | str)
            and 0 < len(body) <= _COALESCE
            and not kwargs.get("chunked")
        )
        try:
            super().request(method, url, body=body, headers=headers, **kwargs)  # type: ignore[misc]
        finally:
            held, self._held, self._hold = self._held, None, False
        if held is not None:  # no body write came after all
            super().send(held)  # type: ignore[misc]

    def putheader(self, header: Any, *values: Any) -> None:
        """http.client's ``putheader`` for one ``str`` value: for a direct request the name and
        value were already checked (``requests.utils.check_header_validity``: no CR/LF, no
        leading blank, a name without ``:`` or blanks), so only the encoding is left (the name
        as ASCII, the value as Latin-1, as http.client does)."""
        if (
            self._direct
            and len(values) == 1
            and type(header) is str
            and type(values[0]) is str
            and values[0] != urllib3.util.SKIP_HEADER
        ):
            self._output(header.encode("ascii") + b": " + values[0].encode("latin-1"))  # type: ignore[attr-defined]
            return
        super().putheader(header, *values)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        if self._hold:
            if self._held is None and isinstance(data, bytes):
                self._held = data  # the header block
                return
            held, self._held, self._hold = self._held, None, False
            if held is not None:
                if isinstance(data, bytes | bytearray):
                    data = held + data
                else:
                    super().send(held)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        attempt: _Attempt | None = getattr(_CURRENT, "attempt", None)
        if attempt is not None:
            attempt.attach(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedMixin, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, urllib3.connection.HTTPSConnection):
    pass


def _released(conn: Any) -> None:
    """``conn`` goes back to its pool: the attempt of this thread lets go of its socket."""
    attempt: _Attempt | None = getattr(_CURRENT, "attempt", None)
    sock = getattr(conn, "sock", None)
    if attempt is not None and sock is not None and attempt.sock is sock:
        attempt.detach()


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _released(conn)
        super()._put_conn(conn)


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _released(conn)
        super()._put_conn(conn)


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _unpatched(adapter: requests.adapters.HTTPAdapter) -> bool:
    """Whether ``adapter.send`` is ``requests``' own: a test double that replaces it
    (``responses`` patches ``HTTPAdapter.send``) must see every request, so the direct send is
    only taken when it would have run ``requests``' code."""
    send = type(adapter).send
    return (
        getattr(send, "__module__", None) == "requests.adapters"
        and getattr(send, "__qualname__", None) == "HTTPAdapter.send"
    )


class _Headers(requests.structures.CaseInsensitiveDict[Any]):
    """``requests``' case-insensitive headers whose ``copy`` copies the underlying table
    instead of re-inserting every header one by one (``urllib3``'s ``urlopen`` copies a
    request's headers, the lean session copies its prepared set, per request)."""

    @classmethod
    def of(cls, headers: Any) -> _Headers:
        """``CaseInsensitiveDict(headers)``: for a mapping with several values per name
        (urllib3's ``HTTPHeaderDict``), the values joined with ``", "`` as the mapping's
        ``[]`` gives them; the first spelling of each name is kept."""
        out = cls()
        store = out._store  # type: ignore[attr-defined]
        merged = getattr(headers, "itermerged", None)
        pairs = merged() if merged is not None else ((k, headers[k]) for k in headers)
        for name, value in pairs:
            store[name.lower()] = (name, value)
        return out

    def copy(self) -> _Headers:
        out = _Headers()
        out._store = self._store.copy()  # type: ignore[attr-defined]
        return out


#: Distinct URLs / header sets / pools remembered per session before the memo starts over.
_MEMO_SIZE = 256


def _resolve_timeout(timeout: Any) -> urllib3.util.Timeout:
    """``HTTPAdapter.send``'s reading of ``timeout``: (connect, read), a urllib3 ``Timeout``, or
    one number (or ``None``) for both."""
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
        except ValueError:
            raise ValueError(
                f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, "
                f"or a single float to set both timeouts to the same value."
            ) from None
        return urllib3.util.Timeout(connect=connect, read=read)
    if isinstance(timeout, urllib3.util.Timeout):
        return timeout
    return urllib3.util.Timeout(connect=timeout, read=timeout)


class _Settings:
    """Records the attributes ``HTTPAdapter.cert_verify`` sets on a connection pool."""


class _PoolManager(urllib3.PoolManager):
    """urllib3's pool manager; ``clear()`` also empties the adapter's memo of pools, so no
    request goes to a pool the manager no longer holds."""

    def __init__(self, memo: dict[Any, Any], *args: Any, **kwargs: Any) -> None:
        self._memo = memo
        super().__init__(*args, **kwargs)

    def clear(self) -> None:
        self._memo.clear()
        super().clear()


class _Adapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections let the deadline watchdog reach their socket while the
    status line and headers arrive (``requests`` exposes nothing before the headers), with a
    direct send for the lean session (:meth:`send_direct`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: (origin, verify) -> (pool or None when proxied, the proxies it was chosen under).
        self._direct: dict[tuple[str, Any], tuple[Any, dict[str, str]]] = {}
        self._timeouts: dict[Any, urllib3.util.Timeout] = {}
        super().__init__(*args, **kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        # requests' own (the documented override point), with a pool manager that forgets the
        # remembered pools when it drops its own (urllib3 2 does not close them on clear()).
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        memo = self.__dict__.setdefault("_direct", {})
        self.poolmanager = _PoolManager(
            memo, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        """``requests``' own, with the TLS part (a ``stat`` of the CA bundle per request)
        worked out once per ``verify``/``cert``: only the origin varies per request."""
        memo: dict[Any, dict[str, Any]] = self.__dict__.setdefault("_tls_memo", {})
        key = (verify, tuple(cert) if isinstance(cert, list | tuple) else cert)
        tls = memo.get(key)
        if tls is None:
            built: Any = super().build_connection_pool_key_attributes(request, verify, cert)
            tls = memo[key] = dict(built[1])
        parts = urlsplit(str(request.url))
        origin = {"scheme": parts.scheme.lower(), "host": parts.hostname, "port": parts.port}
        return origin, dict(tls)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """``requests``' own, its file checks (two ``stat`` calls per HTTPS request) done
        once per ``verify``/``cert``: what it sets on the pool is remembered and re-applied."""
        memo: dict[Any, dict[str, Any]] = self.__dict__.setdefault("_verify_memo", {})
        key = (
            url[:8].lower().startswith("https"),
            verify,
            tuple(cert) if isinstance(cert, list | tuple) else cert,
        )
        settings = memo.get(key)
        if settings is None:
            probe = _Settings()
            # Raises when a file is missing (then nothing is remembered).
            super().cert_verify(probe, url, verify, cert)  # type: ignore[no-untyped-call]
            settings = memo[key] = dict(vars(probe))
        for name, value in settings.items():
            setattr(conn, name, value)

    def send_direct(
        self,
        request: requests.PreparedRequest,
        *,
        timeout: Any,
        verify: Any,
        proxies: Mapping[str, str],
    ) -> requests.Response:
        """``HTTPAdapter.send`` for the lean session's calls (streamed, no client certificate,
        the session's proxies): the pool's ``urlopen`` with the same arguments and the same
        translation of urllib3's failures into ``requests``' exceptions, without redoing per
        request what is constant per origin (pool lookup, proxy choice, TLS settings).

        The pool is remembered per (origin, ``verify``) until the pool manager is cleared
        (``Session.close``), the pool is closed, or the session's proxies change; an origin a
        proxy applies to takes ``HTTPAdapter.send`` itself. (A pool the manager evicts past
        ``pool_connections`` origins stays in use here, open; a client only ever sends to its
        own origin.) Raises exactly what ``HTTPAdapter.send`` raises.
        """
        url = str(request.url)
        start = url.find("//") + 2
        cut = url.find("/", start) if start > 1 else -1
        origin = url if cut < 0 else url[:cut]
        key = (origin, verify)
        entry = self._direct.get(key)
        if entry is None or entry[1] != proxies or (entry[0] is not None and entry[0].pool is None):
            entry = self._direct_entry(request, key, verify, proxies)
        pool = entry[0]
        if pool is None:  # a proxy applies: requests' own path
            return self.send(
                request,
                stream=True,
                timeout=timeout,
                verify=verify,
                cert=None,
                proxies=dict(proxies),
            )
        rest = url[cut:] if cut >= 0 else ""
        # requests' request_url (no proxy): path_url, i.e. path and query without a fragment.
        path = rest if rest and "#" not in rest and rest[-1] != "?" else request.path_url
        resolved = self._timeouts.get(timeout) if isinstance(timeout, tuple | float | int) else None
        if resolved is None:
            resolved = _resolve_timeout(timeout)
            if isinstance(timeout, tuple | float | int) and len(self._timeouts) < _MEMO_SIZE:
                self._timeouts[timeout] = resolved
        headers: Any = request.headers
        body = request.body
        chunked = not (body is None or "Content-Length" in headers)
        if type(headers) is _Headers:
            # The same names, spellings, values and order as a plain dict: urllib3 copies and
            # iterates it per request, which a dict does in C.
            headers = dict(headers._store.values())  # type: ignore[attr-defined]
        _CURRENT.direct = True
        try:
            resp = pool.urlopen(
                method=request.method,
                url=path,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=self.max_retries,
                timeout=resolved,
                chunked=chunked,
            )
        # requests.adapters.HTTPAdapter.send's translation, clause for clause (same order,
        # same classes), so everything above the transport sees the same exceptions.
        except (urllib3.exceptions.ProtocolError, OSError) as err:
            raise requests.exceptions.ConnectionError(err, request=request) from err
        except urllib3.exceptions.MaxRetryError as e:
            reason = e.reason
            if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
                reason, urllib3.exceptions.NewConnectionError
            ):
                raise requests.exceptions.ConnectTimeout(e, request=request) from e
            if isinstance(reason, urllib3.exceptions.ResponseError):
                raise requests.exceptions.RetryError(e, request=request) from e
            if isinstance(reason, urllib3.exceptions.ProxyError):
                raise requests.exceptions.ProxyError(e, request=request) from e
            if isinstance(reason, urllib3.exceptions.SSLError):
                raise requests.exceptions.SSLError(e, request=request) from e
            raise requests.exceptions.ConnectionError(e, request=request) from e
        except urllib3.exceptions.ClosedPoolError as e:
            raise requests.exceptions.ConnectionError(e, request=request) from e
        except urllib3.exceptions.ProxyError as e:
            raise requests.exceptions.ProxyError(e) from e
        except (urllib3.exceptions.SSLError, urllib3.exceptions.HTTPError) as e:
            if isinstance(e, urllib3.exceptions.SSLError):
                raise requests.exceptions.SSLError(e, request=request) from e
            if isinstance(e, urllib3.exceptions.ReadTimeoutError):
                raise requests.exceptions.ReadTimeout(e, request=request) from e
            if isinstance(e, urllib3.exceptions.InvalidHeader):
                raise requests.exceptions.InvalidHeader(e, request=request) from e
            raise
        finally:
            _CURRENT.direct = False
        return self.build_response(request, resp)

    def _direct_entry(
        self,
        request: requests.PreparedRequest,
        key: tuple[str, Any],
        verify: Any,
        proxies: Mapping[str, str],
    ) -> tuple[Any, dict[str, str]]:
        """Look up (and remember) the pool of ``request``'s origin, or ``None`` when a proxy
        applies to it; what ``HTTPAdapter.send`` does per request up to ``urlopen``."""
        plain = dict(proxies)
        pool: Any = None
        if not requests.utils.select_proxy(str(request.url), plain):
            try:
                pool = self.get_connection_with_tls_context(request, verify, proxies=plain)
            except urllib3.exceptions.LocationValueError as e:
                raise requests.exceptions.InvalidURL(e, request=request) from e
            # Raises (every time: nothing is remembered then) when the CA bundle is missing.
            self.cert_verify(pool, str(request.url), verify, None)
        entry = (pool, plain)
        if len(self._direct) >= _MEMO_SIZE:
            self._direct.clear()
        self._direct[key] = entry
        return entry

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """``requests``' own, without filling ``response.cookies``: parsing ``Set-Cookie``
        through ``http.cookiejar`` costs every answer, and no cookie is ever sent back
        (:class:`_LeanSession`)."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = _Headers.of(resp.headers)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        url = req.url
        response.url = url.decode("utf-8") if isinstance(url, bytes) else str(url)
        response.request = req
        response.connection = self
        return response


class _LeanSession(requests.Session):
    """The ``requests.Session`` a :class:`Transport` sends through: same interface, less work
    per request.

    ``requests.Session.request`` redoes on every call what is constant for a client: it merges
    the session's headers, cookies, hooks and environment (``merge_environment_settings``),
    re-validates every header, parses the URL, then resolves redirects and extracts cookies.
    Here, for the calls the transport makes (no redirects, streamed body, no per-call cookies,
    auth, hooks or client certificate):

    * ``trust_env`` is off: the environment (proxies, CA bundle) is read once per client, by
      :meth:`Transport.use_environment`, never per request, and ``~/.netrc`` never;
    * the session's headers merged with a call's headers are validated once per distinct set
      and copied per request (a change to ``session.headers`` is seen: it is part of the key);
    * a URL without ``params`` is prepared once;
    * no cookie is sent or kept (neither platform uses cookies; API-SPEC has none);
    * redirects are never followed (the caller treats a 3xx as an answer);
    * a text-only ``files=`` form (``(None, value)`` pairs, API-SPEC 2.1) is encoded in one pass,
      byte for byte as ``requests`` would, with one random boundary per session
      (:mod:`segmentkit.http._multipart`);
    * the request goes to the pool through :meth:`_Adapter.send_direct` (``HTTPAdapter.send``
      without its per-request pool lookup; same exceptions), its headers are written without
      http.client's re-checks (``requests`` checked them) and a plain answer header block is
      read without the email parser (:mod:`segmentkit.http._headers`). An origin a proxy
      applies to, a mounted adapter of another kind, or a replaced ``HTTPAdapter.send`` (the
      ``responses`` library) takes ``HTTPAdapter.send``.

    Any other call (cookies, auth, hooks, redirects, ``stream=False``, a session with cookies,
    auth, params or hooks of its own) takes ``requests``' full path unchanged, and so does a
    caller's own ``requests.Session`` (only :class:`Transport`'s default session is lean).
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self._headers_memo: dict[Any, requests.structures.CaseInsensitiveDict[Any]] = {}
        self._url_memo: dict[str, str] = {}
        self._boundary = new_boundary()

    def request(  # type: ignore[override]
        self,
        method: str,
        url: Any,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """``requests.Session.request``; the lean path when the call allows it (see the
        class)."""
        if (
            allow_redirects
            or not stream
            or cookies
            or auth
            or hooks
            or cert
            or self.trust_env
            or self.auth
            or self.params
            or self.cert
            or any(self.hooks.values())
            or len(self.cookies)
            or not isinstance(url, str)
        ):
            return super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                cookies=cookies,
                files=files,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
                proxies=proxies,
                hooks=hooks,
                stream=stream,
                verify=verify,
                cert=cert,
                json=json,
            )
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = self._prepare_url(prepared, url, params)
        prepared.headers = self._prepare_headers(headers)
        prepared.hooks = {"response": []}
        form = (
            encode_text_form(files, self._boundary)
            if files and data is None and json is None
            else None
        )
        if form is None:
            prepared.prepare_body(data, files, json)
        else:
            # requests' prepare_body for files=, without its per-field machinery.
            prepared.body, content_type = form
            prepared.headers["Content-Length"] = str(len(form[0]))
            if "content-type" not in prepared.headers:
                prepared.headers["Content-Type"] = content_type
        adapter = self.get_adapter(prepared.url)
        if not proxies and isinstance(adapter, _Adapter) and _unpatched(adapter):
            return adapter.send_direct(
                prepared,
                timeout=timeout,
                verify=cast("bool | str", self.verify if verify is None else verify),
                proxies=self.proxies,
            )
        if proxies:
            proxies = {**self.proxies, **proxies}
        return adapter.send(
            prepared,
            stream=True,
            timeout=timeout,
            verify=cast("bool | str", self.verify if verify is None else verify),
            cert=None,
            proxies=proxies or self.proxies,
        )

    def _prepare_url(self, prepared: requests.PreparedRequest, url: str, params: Any) -> str:
        if params:
            prepared.prepare_url(url, params)
            return str(prepared.url)
        done = self._url_memo.get(url)
        if done is None:
            prepared.prepare_url(url, None)
            done = str(prepared.url)
            if len(self._url_memo) >= _MEMO_SIZE:
                self._url_memo.clear()
            self._url_memo[url] = done
        return done

    def _prepare_headers(self, headers: Any) -> requests.structures.CaseInsensitiveDict[Any]:
        extra = tuple(headers.items()) if headers else ()
        key = (tuple(self.headers.items()), extra)
        merged = self._headers_memo.get(key)
        if merged is None:
            staged = requests.PreparedRequest()
            # requests' merge_setting: the call's headers over the session's, None removes one.
            wanted = requests.structures.CaseInsensitiveDict(self.headers)
            wanted.update(headers or {})
            staged.prepare_headers({k: v for k, v in wanted.items() if v is not None})
            merged = _Headers.of(staged.headers)
            if len(self._headers_memo) >= _MEMO_SIZE:
                self._headers_memo.clear()
            self._headers_memo[key] = merged
        return merged.copy()


class Transport:
    """Sends single attempts for one client: session, TLS, proxies, timeouts, bounded reads.

    It also carries the client's wiring (options, redactor, event sink, clock, sleep, stats)
    that its :class:`~segmentkit.http.session.Session` uses; adapters never touch it.
    """

    def __init__(
        self,
        *,
        provider: str,
        options: ClientOptions,
        redactor: Redactor,
        emit: Callable[[Event], None] | None,
        rate_limit_window: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.provider = provider
        self.options = options
        self.redactor = redactor
        self._emit = emit
        self.clock = clock
        #: ``None``: the session's interruptible wait; tests inject a fake sleep.
        self.sleep = None if sleep is time.sleep else sleep
        self.rate_limit_window = rate_limit_window
        self.stats = Stats()
        self.session = session or _LeanSession()
        self.session.trust_env = False  # environment read once, in use_environment()
        # One pool per origin holding a connection for every worker of a bulk operation (and
        # a streamed listing beside them), so concurrent writes reuse connections instead of
        # opening and discarding sockets. Not pool_block: a caller that holds more answers
        # open at once than that (nested listings) gets an extra connection, not a deadlock.
        pool = max(10, options.concurrency + 4)
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = options.user_agent or (
            f"segmentkit/{__version__} ({provider})"
        )
        self.session.headers["Accept"] = "application/json"
        # Only encodings we decode ourselves, under the size cap (no brotli/zstd surprises).
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.timeout = (options.connect_timeout, options.read_timeout)
        self.deadline = options.deadline
        self.max_bytes = options.max_response_bytes
        self._verify: bool | str = options.verify
        self._proxies: dict[str, str] = {}
        # Legacy attributes, set by the Session built on this transport.
        self.pacer: Any = None
        self.retry_policy: Any = None
        self.rng: Any = None

    def use_environment(self, base_url: str) -> None:
        """Read proxy and CA-bundle settings from the environment once, for ``base_url``.

        ``requests`` would otherwise re-read the environment and ``~/.netrc`` on every call
        (a measurable share of each request), and a netrc entry for the host would replace
        the adapter's ``Authorization`` header. Proxies (``HTTPS_PROXY``, ``NO_PROXY``, …) are
        honoured for HTTPS origins that are not loopback; a plain-HTTP or loopback origin always
        goes direct, so credentials never cross a proxy in clear. A ``REQUESTS_CA_BUNDLE`` /
        ``CURL_CA_BUNDLE`` naming a missing file is a :class:`ConfigurationError`.
        """
        self.session.trust_env = False
        parts = urlsplit(base_url)
        self.session.proxies.clear()
        if parts.scheme == "https" and not is_loopback(parts.hostname):
            self._proxies = dict(requests.utils.get_environ_proxies(base_url))
        else:
            # Explicit "no proxy" for both schemes: requests would otherwise fall back to none
            # only because trust_env is off; this states it.
            self._proxies = {}
        self.session.proxies.update(self._proxies)
        if self.options.verify is True:
            for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                bundle = os.environ.get(var)
                if bundle:
                    if not os.path.exists(bundle):
                        raise ConfigurationError(
                            f"{var} names a CA bundle that does not exist; fix or unset {var}"
                        )
                    self._verify = bundle
                    break

    @property
    def listening(self) -> bool:
        """Whether anyone observes events (if not, events are not even built)."""
        return self._emit is not None

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the client's observers."""
        if self._emit is not None:
            self._emit(event)

    def close(self) -> None:
        """Close the HTTP session and its pooled connections."""
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        write: bool = False,
        safe_url: str = "",
        timeout: tuple[float, float] | None = None,
        deadline: float | None = None,
        read: bool = True,
    ) -> requests.Response:
        """Send one attempt and read its answer whole, within the size cap and deadline.

        This is the only place a request leaves the client and the only place it is counted
        in :class:`Stats`. ``timeout`` (connect, read) and ``deadline`` override the client's
        for this attempt (a per-call view of the session passes them). ``read=False`` returns
        once the status line and headers are in (bound by the deadline as well), leaving the
        body to the caller (a streamed listing); the caller must close the response.

        Raises a :class:`TransportError` subclass when no whole answer came; for ``write``
        requests that may have reached the server, :class:`OutcomeUnknownError`; an answer
        over ``max_response_bytes`` is :class:`ResponseTooLargeError`, one that takes longer
        than ``response_deadline`` is :class:`ResponseDeadlineError`.
        """
        started = self.clock()
        seconds = deadline or self.deadline
        attempt = _Attempt(time.monotonic() + seconds, timeout or self.timeout, seconds)
        _WATCHDOG.watch(attempt)
        _CURRENT.attempt = attempt
        try:
            response = self._open(
                attempt,
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                files=files,
                json=json,
                write=write,
                safe_url=safe_url,
            )
            if read:
                self._read_whole(response, attempt, started, method, url, safe_url, write)
            elif attempt.finish():
                response.close()
                raise self._deadline_error(method, url, safe_url, seconds)
            return response
        finally:
            _CURRENT.attempt = None
            attempt.finish()

    def read(
        self,
        response: requests.Response,
        started: float,
        method: str,
        url: str,
        safe_url: str,
        *,
        deadline: float | None = None,
    ) -> None:
        """Read the rest of an answer sent with ``read=False`` whole, under the size cap and
        within the answer deadline (``deadline`` seconds, default the client's) counted from
        ``started`` (a clock reading)."""
        total = deadline or self.deadline
        seconds = total - (self.clock() - started)
        attempt = _Attempt(time.monotonic() + max(0.0, seconds), self.timeout, total)
        _WATCHDOG.watch(attempt)
        _CURRENT.attempt = attempt
        try:
            self._read_whole(response, attempt, started, method, url, safe_url, False)
        finally:
            _CURRENT.attempt = None
            attempt.finish()

    def _open(
        self,
        attempt: _Attempt,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        data: Any,
        files: Any,
        json: Any,
        write: bool,
        safe_url: str,
    ) -> requests.Response:
        """Send the request and wait for the status line and headers; count it."""
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                files=files,
                json=json,
                timeout=attempt.timeout,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.RequestException as exc:
            self.stats.count(None)
            safe_url = safe_url or self.redactor.url(url)
            error: TransportError = translate_requests_error(
                exc, provider=self.provider, method=method, url=safe_url
            )
            sent = _may_have_been_sent(exc)
            if attempt.fired:
                # The status line or headers trickled past the total deadline.
                error = self._deadline_error(method, url, safe_url, attempt.seconds)
                sent = True
            if write and sent:
                unknown = OutcomeUnknownError(
                    f"no answer to a write, it may have been applied ({type(error).__name__})",
                    provider=self.provider,
                    method=method,
                    url=safe_url,
                )
                unknown.request_sent = True
                raise unknown from (error if attempt.fired else exc)
            error.request_sent = sent
            raise error from exc
        self.stats.count(response.status_code)
        return response

    def _read_whole(
        self,
        response: requests.Response,
        attempt: _Attempt,
        started: float,
        method: str,
        url: str,
        safe_url: str,
        write: bool,
    ) -> None:
        try:
            self._read(response, started, method, url, safe_url, attempt)
        except (TransportError, ResponseTooLargeError) as exc:
            response.close()
            if write:
                # An answer cut off, too slow or too large: the write may have been applied
                # (a caller's Retry.after lookup decides, never a blind re-send).
                unknown = OutcomeUnknownError(
                    f"the answer to a write was cut off, it may have been applied ({exc})",
                    provider=self.provider,
                    method=method,
                    url=safe_url or self.redactor.url(url),
                )
                unknown.request_sent = True
                raise unknown from exc
            raise
        except BaseException:
            response.close()
            raise

    def _deadline_error(
        self, method: str, url: str, safe_url: str, seconds: float
    ) -> ResponseDeadlineError:
        return ResponseDeadlineError(
            f"the answer did not arrive whole within {seconds:g} s",
            provider=self.provider,
            method=method,
            url=safe_url or self.redactor.url(url),
        )

    def _read(
        self,
        response: requests.Response,
        started: float,
        method: str,
        url: str,
        safe_url: str,
        attempt: _Attempt,
    ) -> None:
        """Read the body into ``response._content`` counting decoded bytes (gzip/deflate bombs
        stop at the cap, not after inflating) and checking the total deadline between reads."""
        cap = self.max_bytes
        length = response.headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > cap:
            raise self._too_large(response, method)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        inflater: Any = None
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = _Deflate()
        raw = response.raw
        deadline = started + attempt.seconds
        chunks: list[bytes] = []
        size = 0
        wire = 0
        try:
            while True:
                if attempt.fired or self.clock() > deadline:
                    raise self._deadline_error(method, url, safe_url, attempt.seconds)
                data = raw.read1(_CHUNK, decode_content=False)
                if not data:
                    break
                wire += len(data)
                if inflater is None:
                    out = data
                    size += len(out)
                    if size > cap:
                        raise self._too_large(response, method)
                    chunks.append(out)
                    if raw.length_remaining == 0:
                        # All of Content-Length is in: urllib3 closed the answer and gave the
                        # connection back, another read would only return b"".
                        break
                    continue
                pending = data
                while pending:
                    out = inflater.decompress(pending, min(_INFLATE_STEP, cap - size + 1))
                    size += len(out)
                    if size > cap or wire > cap:
                        raise self._too_large(response, method)
                    if out:
                        chunks.append(out)
                    pending = inflater.unconsumed_tail
            if inflater is not None:
                out = inflater.flush()
                size += len(out)
                if size > cap:
                    raise self._too_large(response, method)
                chunks.append(out)
        except (urllib3.exceptions.HTTPError, OSError, zlib.error) as exc:
            if attempt.fired:
                raise self._deadline_error(method, url, safe_url, attempt.seconds) from exc
            safe = safe_url or self.redactor.url(url)
            if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
                raise RequestTimeoutError(
                    f"timed out reading the answer: {type(exc).__name__}",
                    provider=self.provider,
                    method=method,
                    url=safe,
                ) from exc
            raise ConnectionFailedError(
                f"answer cut off or undecodable: {type(exc).__name__}",
                provider=self.provider,
                method=method,
                url=safe,
            ) from exc
        if attempt.finish():
            # The watchdog's shutdown reads as an end of answer: never take it for one.
            raise self._deadline_error(method, url, safe_url, attempt.seconds)
        # Finished before the connection goes back to the pool, so the watchdog can never
        # cut a socket another attempt is using.
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]
        raw.release_conn()

    def _too_large(self, response: requests.Response, method: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the answer to {method} is larger than max_response_bytes={self.max_bytes}",
            provider=self.provider,
            status_code=response.status_code if response.status_code >= 300 else None,
        )


class _Deflate:
    """``Content-Encoding: deflate`` is zlib-wrapped by the standard, raw by some servers."""

    def __init__(self) -> None:
        self._obj: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            first = data[:1]
            wrapped = bool(first) and (first[0] & 0x0F) == 8 and len(data) > 1
            wrapped = wrapped and ((first[0] << 8) | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out: bytes = self._obj.decompress(data, max_length)
        self.unconsumed_tail = self._obj.unconsumed_tail
        return out

    def flush(self) -> bytes:
        return b"" if self._obj is None else bytes(self._obj.flush())


def _may_have_been_sent(exc: BaseException) -> bool:
    """False only when the failure provably happened before any byte reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidHeader
        | requests.exceptions.SSLError
        | requests.exceptions.ProxyError,
    ):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        seen: set[int] = set()
        cur: BaseException | None = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            name = type(cur).__name__
            if name in ("NewConnectionError", "NameResolutionError", "ConnectionRefusedError"):
                return False
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException) and id(reason) not in seen:
                cur = reason
                continue
            nested = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
            cur = nested or cur.__cause__ or cur.__context__
    return True
