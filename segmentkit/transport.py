"""HTTP transport: one ``requests.Session`` per client, timeouts, pacing, events, stats.

The pieces that decide (``RetryPolicy``, :func:`parse_retry_after`, :class:`Pacer`) are pure
and take an injectable clock, so they are tested without sleeping. :class:`Transport` sends one
attempt; the retry loop lives in :class:`segmentkit.provider.Provider`, because whether an
answer is usable (JSON, envelope) is only known after decoding.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
import requests.utils
from pydantic import BaseModel, ConfigDict, Field

from ._version import __version__
from .errors import OutcomeUnknownError, translate_requests_error
from .events import Event, RateLimitWait, RequestSent, ResponseReceived
from .redact import Redactor, get_logger

__all__ = [
    "ClientOptions",
    "Pacer",
    "RetryPolicy",
    "Stats",
    "Transport",
    "parse_retry_after",
]

log = get_logger("segmentkit.http")
_FALSY = frozenset({"false", "0", "no", "off", ""})

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ClientOptions(BaseModel):
    """Options every client accepts (``connect(..., timeout=10, max_retries=5)``).

    A misspelt option is an error, not silently ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout: float = Field(5.0, gt=0, description="seconds to establish a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for each answer")
    max_retries: int = Field(3, ge=0, le=20, description="retries after the first attempt")
    backoff_base: float = Field(0.5, ge=0, description="first backoff delay, seconds")
    backoff_max: float = Field(8.0, ge=0, description="largest backoff delay, seconds")
    max_retry_wait: float = Field(60.0, ge=0, description="cap on Retry-After waits, seconds")
    pacing: bool = Field(True, description="space requests to stay under advertised limits")
    rate_limit_window: float | None = Field(
        None, gt=0, description="override the platform's rate-limit window, seconds"
    )
    concurrency: int = Field(8, ge=1, le=64, description="parallel requests in bulk operations")
    verify: bool | str = Field(True, description="TLS verification; a CA bundle path is allowed")
    user_agent: str | None = None

    def model_post_init(self, __context: Any) -> None:
        from .errors import ConfigurationError

        if self.verify is False or (
            isinstance(self.verify, str) and self.verify.strip().lower() in _FALSY
        ):
            raise ConfigurationError(
                "TLS verification cannot be turned off; pass a CA bundle path as verify=..."
            )
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise ConfigurationError(f"verify={self.verify!r}: no CA bundle at that path")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before another attempt.

    Exponential backoff with jitter: attempt ``n`` (1-based, the attempt that failed) waits a
    random time in ``[d/2, d]`` where ``d = min(backoff_max, backoff_base * 2**(n-1))``. A
    server-given wait (``Retry-After``, ``X-RateLimit-Reset``) replaces the backoff, capped at
    ``max_retry_wait``.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_wait: float = 60.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_wait))
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempt - 1))
        return ceiling * (0.5 + rng.random() / 2)

    def can_retry(self, attempt: int) -> bool:
        """Whether another attempt is allowed after attempt number ``attempt`` failed."""
        return attempt <= self.max_retries


def parse_retry_after(
    headers: Mapping[str, str], *, now: float | None = None, wall: float | None = None
) -> float | None:
    """Seconds to wait according to ``Retry-After`` or ``X-RateLimit-Reset``, or ``None``.

    ``Retry-After`` is delta-seconds or an HTTP date. ``X-RateLimit-Reset`` is seconds left
    (66text, API-SPEC 1.4) or, when larger than 10**9, an epoch timestamp. ``wall`` is the
    current epoch time (injectable for tests).
    """
    wall = time.time() if wall is None else wall
    value = _header(headers, "retry-after")
    if value is not None:
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - wall)
    reset = _header(headers, "x-ratelimit-reset")
    if reset is not None:
        try:
            number = float(reset.strip())
        except ValueError:
            return None
        if number > 1e9:
            return max(0.0, number - wall)
        return max(0.0, number)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # requests' CaseInsensitiveDict answers any case; plain dicts need a scan.
    value = headers.get(name)
    if value is not None:
        return value
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _header(headers, name)
    if value is None:
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return None


class Pacer:
    """Client-side pacing for fixed-window rate limits advertised in headers.

    The server window opens with the first request it sees and lasts ``window`` seconds. We
    never know exactly when, so we bound it from the safe side: the window that a response
    belongs to opened no later than that response arrived. Within a window we send freely while
    our own count of remaining requests (lowered by ``X-RateLimit-Remaining`` whenever that is
    smaller) is positive, then wait until ``first_response + window + margin``. Requests sent
    after that wait can only fall into a new window, so sustained work never meets a 429 and
    still reaches ``limit / (window + margin)`` of the allowed rate.
    """

    def __init__(
        self,
        window: float | None,
        *,
        clock: Clock = time.monotonic,
        margin: float = 0.02,
    ) -> None:
        self.window = window
        self.clock = clock
        self.margin = margin
        self._lock = threading.Lock()
        self.limit: int | None = None
        self._remaining: int | None = None
        self._window_anchor: float | None = None  # arrival of the first response in window
        self._blocked_until: float = 0.0

    def reserve(self) -> float:
        """Claim a slot for one request; return how long to wait first (0 = go now)."""
        with self._lock:
            now = self.clock()
            if now < self._blocked_until:
                return self._blocked_until - now
            if self._remaining is None:
                return 0.0
            if self._remaining > 0:
                self._remaining -= 1
                return 0.0
            # Out of requests in this window: wait for it to close.
            if self._window_anchor is None or self.window is None:
                return 0.0  # nothing to go on; the 429 path will tell us
            until = self._window_anchor + self.window + self._margin()
            if now >= until:
                self._open_new_window()
                self._remaining = (self.limit or 1) - 1
                return 0.0
            return until - now

    def _margin(self) -> float:
        return max(self.margin, (self.window or 0) * 0.005)

    def _open_new_window(self) -> None:
        self._window_anchor = None
        self._remaining = self.limit

    def observe(
        self, headers: Mapping[str, str], *, status: int, retry_after: float | None
    ) -> None:
        """Learn from a response's rate-limit headers."""
        limit = _int_header(headers, "x-ratelimit-limit")
        if limit is None:
            return
        remaining = _int_header(headers, "x-ratelimit-remaining")
        with self._lock:
            now = self.clock()
            if self.limit is None:
                self.limit = limit
                # First sight: count from what the server says is left.
                self._remaining = remaining if remaining is not None else limit - 1
            if self._window_anchor is None:
                self._window_anchor = now
            if remaining is not None and self._remaining is not None:
                self._remaining = min(self._remaining, remaining)
            if status == 429:
                self._remaining = 0
                if retry_after is not None:
                    self._blocked_until = max(self._blocked_until, now + retry_after + 0.01)
                    self._window_anchor = None
                    self._remaining = limit


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


class Transport:
    """Sends single attempts for one client: session, timeouts, pacing, events, stats."""

    def __init__(
        self,
        *,
        provider: str,
        options: ClientOptions,
        redactor: Redactor,
        emit: Callable[[Event], None] | None,
        rate_limit_window: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.provider = provider
        self.options = options
        self.redactor = redactor
        self._emit = emit
        self.clock = clock
        self.sleep = sleep
        self.stats = Stats()
        self.retry_policy = RetryPolicy(
            max_retries=options.max_retries,
            backoff_base=options.backoff_base,
            backoff_max=options.backoff_max,
            max_retry_wait=options.max_retry_wait,
        )
        self.rng = random.Random()
        window = options.rate_limit_window or rate_limit_window
        self.pacer = Pacer(window, clock=clock) if options.pacing else None
        self.session = session or requests.Session()
        pool = max(10, options.concurrency + 2)
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=pool, max_retries=0
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = options.user_agent or (
            f"segmentkit/{__version__} ({provider})"
        )
        self.session.headers["Accept"] = "application/json"
        self.timeout = (options.connect_timeout, options.read_timeout)
        self._verify: bool | str = options.verify

    def use_environment(self, base_url: str) -> None:
        """Read proxy and CA-bundle settings from the environment once, for ``base_url``.

        ``requests`` would otherwise re-read the environment and ``~/.netrc`` on every call
        (a measurable share of each request), and a netrc entry for the host would replace
        the adapter's ``Authorization`` header. Proxies (``HTTPS_PROXY``, ``NO_PROXY``, …) and
        ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are still honoured, as of client creation.
        """
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(base_url))
        if self.options.verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                self._verify = bundle

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

    def wait_for_pacer(self) -> None:
        """Block until the pacer allows one more request."""
        if self.pacer is None:
            return
        for _ in range(1000):  # bounded: each wait ends a window or a Retry-After
            delay = self.pacer.reserve()
            if delay <= 0:
                return
            self.stats.add_wait(delay)
            if self._emit is not None:
                self._emit(
                    RateLimitWait(
                        provider=self.provider,
                        delay=delay,
                        limit=self.pacer.limit,
                        remaining=0,
                    )
                )
            if log.isEnabledFor(10):
                log.debug("%s: pacing %.3fs to stay under the rate limit", self.provider, delay)
            self.sleep(delay)

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
        attempt: int = 1,
    ) -> requests.Response:
        """Send one attempt. Raises a :class:`TransportError` subclass when no response came;
        for ``write`` requests that may have reached the server, :class:`OutcomeUnknownError`.
        """
        self.wait_for_pacer()
        emit = self._emit
        debug = log.isEnabledFor(10)
        safe_url = self.redactor.url(url) if (emit is not None or debug) else ""
        if emit is not None:
            emit(
                RequestSent(
                    provider=self.provider,
                    method=method,
                    url=safe_url,
                    headers=self.redactor.headers(headers),
                    attempt=attempt,
                )
            )
        started = self.clock()
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                files=files,
                json=json,
                timeout=self.timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            self.stats.count(None)
            safe_url = safe_url or self.redactor.url(url)
            error = translate_requests_error(
                exc, provider=self.provider, method=method, url=safe_url
            )
            if write and _may_have_been_sent(exc):
                error = OutcomeUnknownError(
                    f"no answer to a write, it may have been applied ({type(exc).__name__})",
                    provider=self.provider,
                    method=method,
                    url=safe_url,
                )
            error.request_sent = _may_have_been_sent(exc)
            if log.isEnabledFor(10):
                log.debug("%s %s failed: %s", method, safe_url, error)
            raise error from exc
        elapsed = self.clock() - started
        self.stats.count(response.status_code)
        if self.pacer is not None:
            status = response.status_code
            retry_after = parse_retry_after(response.headers) if status == 429 else None
            self.pacer.observe(
                response.headers, status=response.status_code, retry_after=retry_after
            )
        if emit is not None:
            emit(
                ResponseReceived(
                    provider=self.provider,
                    method=method,
                    url=safe_url,
                    status_code=response.status_code,
                    elapsed=elapsed,
                    attempt=attempt,
                )
            )
        if debug:
            log.debug(
                "%s %s -> %s in %.0f ms", method, safe_url, response.status_code, elapsed * 1000
            )
        return response


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
