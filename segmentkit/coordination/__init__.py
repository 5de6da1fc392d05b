"""Coordination between workers that share one platform account.

Two things are shared by every worker using one account (API-SPEC §1.4/§1.11c, §2.7):

* the platform's **rate limit**, so every request first takes a slot from a shared
  :class:`Budget` for its rate-limit *scope* (66text: API key + host; allstech: host/client IP);
* on platforms that store a member list whole (66text bulk/custom segments), the **segment**
  itself, so a read-modify-write runs under a :meth:`Coordinator.lock` for
  provider + account + segment.

A :class:`Coordinator` hands out both. Backends:

``local``  threads and clients of one process (this module);
``host``   every process on one machine, through lock files in a per-user runtime directory
           (:mod:`segmentkit.coordination.host`, **the default**);
``redis``  every process on every host, through a Redis server (``segmentkit[redis]``,
           :mod:`segmentkit.coordination.redis`).

Choose one with :func:`get_coordinator`: ``"local"``, ``"host"``, ``"redis://…"`` /
``"rediss://…"``, or ``None`` for ``$SEGMENTKIT_COORDINATION``, else ``host``.

Scopes are always passed through :func:`scope_key`, a one-way hash, so nothing secret is ever
stored in a lock file or in Redis.

Times are wall-clock seconds (``time.time()``): processes and hosts share no monotonic clock.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from ..errors import ConfigurationError, LockTimeoutError

__all__ = [
    "Budget",
    "Coordinator",
    "Lease",
    "LocalCoordinator",
    "get_coordinator",
    "local_coordinator",
    "scope_key",
]

Clock = Callable[[], float]


def scope_key(*parts: str) -> str:
    """Return a stable one-way name for a scope (e.g. provider, account secret, segment id).

    The parts are hashed with SHA-256 so that a credential used to tell accounts apart never
    reaches a lock file, a Redis key or a log line.
    """
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:40]


class Budget(ABC):
    """A request budget shared by every worker of one rate-limit scope.

    At most ``limit`` requests start in any interval of ``window`` seconds, counted across all
    workers using the same scope and backend. The caller sleeps; the budget never does.

    A server whose fixed window opens at the first request's *arrival* (66text, API-SPEC
    §1.4) sees starts shifted by network latency, so a budget of exactly its window can still
    meet a 429 at a window boundary when latency varies. Ask for a slightly longer window
    than the server's: measured with 4 processes against the 66text fake at 30 per 3 s,
    ``window=3.0`` met 3-4 429s in 160 requests, ``window=3.05`` none (limit used 0.98-1.0).

    Budgets of one scope and window share one log whatever their ``limit``: a worker that
    still uses the adapter's declared limit and one that learned the server's advertised
    limit count the same requests (the limit only decides how many of them may be in it).
    """

    limit: int
    window: float

    @abstractmethod
    def reserve(self) -> float:
        """Claim one request slot; return how many seconds to wait before sending (0 = now).

        The slot is claimed at once (at ``now + wait``), so concurrent callers get distinct
        slots: the budget is exact under contention.
        """

    @abstractmethod
    def block_until(self, wall_time: float) -> None:
        """Tell every worker that the server refused requests until ``wall_time`` (a 429)."""

    def learn(self, limit: int) -> None:  # noqa: B027 - optional: a backend may not share it
        """Record the limit the server advertised for this scope and window: every worker's
        budget of it counts against that limit from its next reservation, including those
        still on the adapter's declared limit (a worker that has not had an answer yet)
        when it is larger than theirs (a smaller one is applied by each worker's own switch).
        Kept for two windows (a session re-learns it once a window while it works), so a
        limit seen by an old run never outlives the workers that saw it."""


class Lease(ABC):
    """What ``with coordinator.lock(scope) as lease:`` yields: the held lock.

    Call :meth:`check` right before a write that relies on the lock (e.g. before rewriting a
    segment's member list): a lock that can expire (``redis``) may have been lost meanwhile.
    """

    scope: str

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`~segmentkit.CoordinationError` if the lock is no longer held."""


class _HeldLease(Lease):
    """A lock that cannot be lost while its holder lives (``local``; ``host``)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def check(self) -> None:
        return None


class Coordinator(ABC):
    """Segment locks and shared request budgets for one backend."""

    #: ``"local"``, ``"host"`` or ``"redis"``.
    name: str

    @abstractmethod
    def lock(
        self, scope: str, *, timeout: float = 120.0, ttl: float = 300.0
    ) -> AbstractContextManager[Lease]:
        """Hold the lock for ``scope`` (from :func:`scope_key`) for the ``with`` block.

        Waits at most ``timeout`` seconds, then raises :class:`~segmentkit.LockTimeoutError`.
        ``ttl`` bounds how long a dead holder can keep it (backends that can expire locks).
        Raises :class:`~segmentkit.CoordinationError` when the backend itself fails, and when
        a lock that could expire was lost (at :meth:`Lease.check` and at the end of the block),
        so an operation never goes on unlocked silently. Not reentrant.
        """

    @abstractmethod
    def budget(self, scope: str, *, limit: int, window: float) -> Budget:
        """The shared budget of ``scope``: at most ``limit`` requests per ``window`` seconds."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release backend resources (connections); the default has none."""


def _sane_block(wall_time: float, now: float) -> float:
    """A refusal's end as given by a server, bounded: a garbage ``Reset: inf`` must not block
    every worker of the scope for ever (shared state outlives the run)."""
    if wall_time != wall_time or wall_time > now + 3600.0:  # NaN, inf, garbage: ignored
        return 0.0
    return wall_time


class _LocalLog:
    """The start times of one scope and window, shared by its budgets of every limit."""

    def __init__(self) -> None:
        self.starts: deque[float] = deque()
        self.blocked_until = 0.0
        self.limit: int | None = None  # advertised by the server (Budget.learn)
        self.limit_until = 0.0
        self.lock = threading.Lock()


class _LocalBudget(Budget):
    """A sliding log of start times, with future reservations (exact within one process)."""

    def __init__(
        self, limit: int, window: float, clock: Clock, shared: _LocalLog | None = None
    ) -> None:
        self.limit = max(1, int(limit))
        self.window = float(window)
        self._clock = clock
        self._log = _LocalLog() if shared is None else shared

    def reserve(self) -> float:
        log_ = self._log
        with log_.lock:
            now = self._clock()
            starts = log_.starts
            while starts and starts[0] <= now - self.window:
                starts.popleft()
            at = max(now, log_.blocked_until)
            learned = log_.limit if now < log_.limit_until else None
            limit = max(learned or 0, self.limit)  # a learned limit only frees, never stalls
            if len(starts) >= limit:
                # The slot frees when the request `limit` places back leaves the window.
                at = max(at, starts[-limit] + self.window)
            # Sorted insert: a budget with a larger limit may claim a slot before one that a
            # smaller limit already pushed into the future.
            bisect.insort(starts, at)
            return at - now

    def block_until(self, wall_time: float) -> None:
        wall_time = _sane_block(wall_time, self._clock())
        with self._log.lock:
            self._log.blocked_until = max(self._log.blocked_until, wall_time)

    def learn(self, limit: int) -> None:
        with self._log.lock:
            self._log.limit = max(1, int(limit))
            self._log.limit_until = self._clock() + 2 * self.window


def _lock_timeout(scope: str, timeout: float) -> LockTimeoutError:
    """The error every backend raises when ``scope``'s lock stayed taken for ``timeout`` s."""
    return LockTimeoutError(
        f"could not lock the segment within {timeout:g} s (another worker holds it)",
        scope=scope,
        timeout=timeout,
    )


class _HeldLocks(Coordinator):
    """What the backends whose locks cannot be lost while their holder lives (``local``,
    ``host``) share: the ``with`` block around a taken lock, and one budget object per scope,
    limit and window (so a client asking again gets the same budget, without re-creating its
    state). A backend says how to take a lock (:meth:`_take`) and how to build a budget
    (:meth:`_new_budget`)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._budgets: dict[tuple[str, int, float], Budget] = {}

    @abstractmethod
    def _take(self, scope: str, timeout: float) -> Callable[[], None] | None:
        """Take ``scope``'s lock within ``timeout`` seconds (0 = one try); return the function
        that releases it, or ``None`` when it stayed taken."""

    @abstractmethod
    def _new_budget(self, scope: str, limit: int, window: float) -> Budget:
        """The budget of a scope, limit and window not asked for before (under the guard)."""

    @contextmanager
    def _held(self, scope: str, timeout: float) -> Iterator[Lease]:
        release = self._take(scope, max(0.0, timeout))
        if release is None:
            raise _lock_timeout(scope, timeout)
        try:
            yield _HeldLease(scope)
        finally:
            release()

    def lock(
        self, scope: str, *, timeout: float = 120.0, ttl: float = 300.0
    ) -> AbstractContextManager[Lease]:
        return self._held(scope, timeout)

    def budget(self, scope: str, *, limit: int, window: float) -> Budget:
        key = (scope, max(1, int(limit)), float(window))
        with self._guard:
            found = self._budgets.get(key)
            if found is None:
                found = self._budgets[key] = self._new_budget(*key)
            return found


class LocalCoordinator(_HeldLocks):
    """Coordination between the threads and clients of one process.

    Locks and budgets are shared by every client that uses the same instance; use
    :func:`local_coordinator` for the process-wide one.
    """

    name = "local"

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__()
        self._clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._logs: dict[tuple[str, float], _LocalLog] = {}

    def _take(self, scope: str, timeout: float) -> Callable[[], None] | None:
        with self._guard:
            lock = self._locks.setdefault(scope, threading.Lock())
        return lock.release if lock.acquire(timeout=timeout) else None

    def _new_budget(self, scope: str, limit: int, window: float) -> Budget:
        shared = self._logs.setdefault((scope, window), _LocalLog())
        return _LocalBudget(limit, window, self._clock, shared)


_PROCESS_LOCAL = LocalCoordinator()


def local_coordinator() -> LocalCoordinator:
    """The process-wide local coordinator, shared by every client of this process."""
    return _PROCESS_LOCAL


#: Coordinators built by :func:`get_coordinator`, one per spec per process.
_CACHE: dict[str, Coordinator] = {}
_CACHE_GUARD = threading.Lock()

#: The backend used when neither the caller nor ``SEGMENTKIT_COORDINATION`` names one.
DEFAULT_SPEC = "host"


def get_coordinator(spec: str | Coordinator | None = None) -> Coordinator:
    """Return the coordinator for ``spec``: ``"local"``, ``"host"``, ``"redis://…"``.

    A :class:`Coordinator` instance is returned as it is (so ``connect(coordination=...)`` may
    take either).

    ``None`` (or ``""``) reads ``SEGMENTKIT_COORDINATION``, then falls back to ``"host"``
    (every process of this user on this machine). ``"redis://[:password@]host:port/db"`` and
    ``"rediss://…"`` (TLS) share locks and budgets between hosts; they need
    ``pip install 'segmentkit[redis]'`` and a reachable server, else
    :class:`~segmentkit.ConfigurationError` (which never shows the password).

    Instances are shared per spec within a process, so every client of one process that uses
    the same spec shares its locks, budgets and connections.
    """
    if isinstance(spec, Coordinator):
        return spec
    raw = spec or os.environ.get("SEGMENTKIT_COORDINATION") or DEFAULT_SPEC
    raw = raw.strip()
    kind = raw.lower()
    if kind == "local":
        return _PROCESS_LOCAL
    if kind.startswith(("redis://", "rediss://")):
        key = raw
    elif kind == "host":
        key = kind
    else:
        shown = kind.split("://", 1)[0] + "://…" if "://" in kind else repr(kind[:20])
        raise ConfigurationError(
            f"coordination: unknown backend {shown}; use 'local', 'host' or "
            "'redis://host:port/db' (or 'rediss://…')"
        )
    with _CACHE_GUARD:
        found = _CACHE.get(key)
        if found is None:
            if key == "host":
                from .host import HostCoordinator

                found = HostCoordinator()
            else:
                from .redis import RedisCoordinator

                found = RedisCoordinator(key)
            _CACHE[key] = found
        return found
