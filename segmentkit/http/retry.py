"""Retry and pacing decisions: pure, with an injectable clock (tested without sleeping).

* :class:`RetryPolicy` — how long to back off after a failed attempt.
* :func:`parse_retry_after` / :func:`server_wait` — what the server says about waiting.
* :class:`Pacer` — client-side pacing for fixed-window limits advertised in headers.
* :class:`RateLimit` — an adapter's declaration of its platform's limit (shared budgets).
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Pacer",
    "RateLimit",
    "RetryPolicy",
    "parse_retry_after",
    "server_wait",
]

Clock = Callable[[], float]

#: A Reset value at or above this is an epoch timestamp (allstech, API-SPEC §2.7), below it
#: a number of seconds left (66text, API-SPEC §1.4). 10**9 s is 2001; no window lasts 31 years.
_EPOCH_THRESHOLD = 1e9
#: Shortest wait after a 429: the server just refused, so "now" is never right (API-SPEC
#: §1.11c: 66text answers ``X-RateLimit-Reset: 0`` for up to a second while still refusing).
MIN_429_WAIT = 1.0


@dataclass(frozen=True)
class RateLimit:
    """A platform's documented rate limit, declared by an adapter.

    ``scope`` says who shares it: ``"account"`` (credentials + host: 66text, 60 per 60 s per
    key, API-SPEC §1.4) or ``"host"`` (every key used against one host: allstech counts per
    client IP, API-SPEC §2.7). ``whole_seconds`` marks servers whose windows end on a whole
    second after ``window`` (66text, §1.11c): every wait keeps a further second of margin.
    """

    limit: int
    window: float
    scope: Literal["account", "host"] = "account"
    whole_seconds: bool = False

    @property
    def margin(self) -> float:
        """Seconds added to the window on our side so a window boundary is never met early."""
        return (1.0 if self.whole_seconds else 0.0) + max(0.05, self.window * 0.005)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before another attempt.

    Exponential backoff with jitter: attempt ``n`` (1-based, the attempt that failed) waits a
    random time in ``[d/2, d]`` where ``d = min(backoff_max, backoff_base * 2**(n-1))``. A
    server-given wait (``Retry-After``, ``X-RateLimit-Reset``) replaces the backoff, capped at
    ``max_retry_wait`` (the session raises instead of waiting longer than that).
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_wait: float = 90.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_wait))
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempt - 1))
        return min(ceiling * (0.5 + rng.random() / 2), self.max_retry_wait)

    def can_retry(self, attempt: int) -> bool:
        """Whether another attempt is allowed after attempt number ``attempt`` failed."""
        return attempt <= self.max_retries


def parse_retry_after(
    headers: Mapping[str, str], *, now: float | None = None, wall: float | None = None
) -> float | None:
    """Seconds to wait according to ``Retry-After`` or ``X-RateLimit-Reset``, or ``None``.

    ``Retry-After`` is delta-seconds or an HTTP date. ``X-RateLimit-Reset`` is seconds left
    (66text, API-SPEC 1.4) or, from 10**9 on, an epoch timestamp (allstech, API-SPEC 2.7).
    ``wall`` is the current epoch time (injectable for tests). The raw reading: see
    :func:`server_wait` for the wait to actually keep.
    """
    wall = time.time() if wall is None else wall
    value = _header(headers, "retry-after")
    if value is not None:
        seconds = _retry_after_value(value.strip(), wall)
        if seconds is not None:
            return seconds
    reset = _reset_value(headers, wall)
    return None if reset is None else reset[0]


def server_wait(
    headers: Mapping[str, str], *, status: int, wall: float | None = None
) -> float | None:
    """The wait to keep before sending again after an answer with ``status``, or ``None``.

    Unlike :func:`parse_retry_after` this is on the safe side: a delta ``X-RateLimit-Reset: N``
    means "refused for up to N+1 more seconds" (66text counts whole seconds and answers
    ``Reset: 0`` while still refusing, API-SPEC §1.11c), and a 429 is never retried at 0 s.
    """
    wall = time.time() if wall is None else wall
    seconds: float | None = None
    value = _header(headers, "retry-after")
    if value is not None:
        seconds = _retry_after_value(value.strip(), wall)
    told = seconds is not None
    if seconds is None:
        reset = _reset_value(headers, wall)
        if reset is not None:
            seconds, is_epoch = reset
            if not is_epoch:
                seconds += 1.0
    if status == 429 and (seconds is None or seconds <= 0 or not told):
        # An explicit positive Retry-After is the server's word; anything else after a 429
        # (no header, a Reset count, a zero) waits at least a second.
        return max(MIN_429_WAIT, seconds or 0.0)
    return seconds


def _retry_after_value(value: str, wall: float) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if seconds != seconds:  # NaN
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - wall)
    except (OverflowError, OSError, ValueError):
        return None


def _reset_value(headers: Mapping[str, str], wall: float) -> tuple[float, bool] | None:
    reset = _header(headers, "x-ratelimit-reset")
    if reset is None:
        return None
    try:
        number = float(reset.strip())
    except ValueError:
        return None
    if number != number:  # NaN
        return None
    if number >= _EPOCH_THRESHOLD:
        return max(0.0, number - wall), True
    return max(0.0, number), False


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
    still reaches ``limit / (window + margin)`` of the allowed rate. ``whole_seconds`` adds a
    second to the margin for servers whose windows end on the next whole second (66text,
    API-SPEC §1.11c: a window of 60 s lasts up to 61 s).
    """

    def __init__(
        self,
        window: float | None,
        *,
        clock: Clock = time.monotonic,
        margin: float = 0.02,
        whole_seconds: bool = False,
    ) -> None:
        self.window = window
        self.clock = clock
        self.margin = margin
        self.whole_seconds = whole_seconds
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
                self._window_anchor = None
                self._remaining = (self.limit or 1) - 1
                return 0.0
            return until - now

    @property
    def blocked_until(self) -> float:
        """Clock time before which no request may go (after a 429), or 0."""
        return self._blocked_until

    def unblock(self, until: float) -> None:
        """Lift the block ending at ``until`` (its wait was kept by whoever called this);
        a later, longer block stays."""
        with self._lock:
            if self._blocked_until == until:
                self._blocked_until = 0.0

    def _margin(self) -> float:
        base = max(self.margin, (self.window or 0) * 0.005)
        return base + (1.0 if self.whole_seconds else 0.0)

    def observe(
        self, headers: Mapping[str, str], *, status: int, retry_after: float | None
    ) -> None:
        """Learn from a response's rate-limit headers; ``retry_after`` is the wait a 429 asks
        for (already on the safe side, see :func:`server_wait`)."""
        limit = _int_header(headers, "x-ratelimit-limit")
        if limit is None:
            if status == 429 and retry_after is not None:
                # A refusal without a limit header still says when to come back.
                with self._lock:
                    until = self.clock() + retry_after + 0.01
                    self._blocked_until = max(self._blocked_until, until)
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
