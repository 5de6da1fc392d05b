"""The ``redis`` coordination backend: every process on every host, through one Redis server.

Needs redis-py (``pip install 'segmentkit[redis]'``), imported only when this backend is used.

* **Lock**: ``SET key token NX PX ttl`` with a random token, waited for at most ``timeout``
  seconds (:class:`~segmentkit.LockTimeoutError`). While held, a daemon thread renews it every
  ``ttl / 3`` (compare-token-then-``PEXPIRE``), so a live holder keeps it however long it
  works and a dead one (crash, ``SIGKILL``, lost host) loses it within ``ttl``. A lock that was
  lost — expired while Redis was unreachable, or taken over — raises
  :class:`~segmentkit.CoordinationError` at the next :meth:`Lease.check` and at the end of the
  ``with`` block; it is released by compare-token-then-``DEL`` so it never frees another
  worker's lock.
* **Budget**: one Lua script over a sorted set (the sliding log of reserved start times, with
  future reservations), atomic in Redis and so exact under any contention. The clock is Redis'
  own ``TIME``, so hosts need not agree on the time.

Keys are ``segmentkit:{<hash>}:…`` where ``<hash>`` is a one-way hash of the scope; nothing
secret is ever stored. The braces keep one scope's keys in one Redis Cluster slot.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError, CoordinationError
from . import Budget, Coordinator, Lease, _lock_timeout, scope_key

if TYPE_CHECKING:
    import redis as redis_py

__all__ = ["RedisCoordinator", "shown_url"]

log = logging.getLogger("segmentkit.coordination")

# KEYS: log (sorted set), blocked-until, sequence, learned limit. ARGV: limit, window (µs).
# Returns the wait in µs. Mirrors _LocalBudget.reserve with Redis TIME as the clock; a limit
# learned from the server (Budget.learn) wins over the caller's declared one.
_RESERVE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local learned = tonumber(redis.call('GET', KEYS[4]) or '0')
if learned > limit then limit = learned end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
local at = now
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > at then at = blocked end
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local e = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local free = tonumber(e[2]) + window
  if free > at then at = free end
end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], string.format('%.0f', at), tostring(seq))
local keep = math.ceil((at - now + window) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[3], keep)
return string.format('%.0f', at - now)
"""

# KEYS: blocked-until. ARGV: seconds-from-now in µs.
_BLOCK = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local till = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > cur then
  local keep = math.ceil((till - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX', keep)
end
return 1
"""

# KEYS: lock. ARGV: token, ttl (ms). 1 when renewed, 0 when the lock is not ours any more.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: token. 1 when released, 0 when it was not ours any more.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_PREFIX = "segmentkit:"


def shown_url(url: str) -> str:
    """``url`` fit to show: scheme, user, host, port and database; never the password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("://", 1)[0] + "://…"
    if ":" in host:
        host = f"[{host}]"
    user = unquote(parts.username) if parts.username else ""
    auth = f"{user}:***@" if parts.password is not None else (f"{user}@" if user else "")
    return f"{parts.scheme}://{auth}{host}{port}{parts.path}"


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


class _RedisLease(Lease):
    """A held Redis lock and the daemon thread that renews it."""

    def __init__(
        self, owner: RedisCoordinator, scope: str, key: str, token: str, ttl: float, sent: float
    ) -> None:
        self.scope = scope
        self._owner = owner
        self._key = key
        self._token = token
        self._ttl_ms = max(1, round(ttl * 1000))
        self._ttl = self._ttl_ms / 1000
        # Held for sure until this monotonic time: the last confirmation's send time + ttl,
        # less 10 % for Redis' own expiry jitter and clock rate differences.
        self._valid_until = sent + 0.9 * self._ttl
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_loop, name="segmentkit-lock-renewal", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = self._ttl / 3
        retry = min(1.0, self._ttl / 10)
        wait = interval
        while not self._stop.wait(wait):
            sent = time.monotonic()
            try:
                renewed = self._owner._call(
                    self._owner._renew, [self._key], [self._token, self._ttl_ms]
                )
            except Exception as exc:  # never dies silently: check() fails once unconfirmed
                log.warning("segment lock renewal failed (will retry): %s", exc)
                wait = retry
                continue
            if int(renewed) != 1:
                self._lost = "the lock expired and may have been taken by another worker"
                return
            self._valid_until = sent + 0.9 * self._ttl
            wait = interval

    def check(self) -> None:
        if self._lost is None and time.monotonic() >= self._valid_until:
            self._lost = "the lock could not be renewed in time (Redis unreachable?)"
        if self._lost is not None:
            raise CoordinationError(f"segment lock lost: {self._lost}; the operation stopped")

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._owner.socket_timeout * 2 + 1)
        released = self._owner._call(self._owner._release, [self._key], [self._token])
        if int(released) == 1:
            # Our token was still there: SET NX means nobody else held it in between.
            return
        if self._lost is None:
            self._lost = "the lock expired before it was released"
        self.check()


class _RedisBudget(Budget):
    def __init__(self, owner: RedisCoordinator, scope: str, limit: int, window: float):
        self.limit = max(1, int(limit))
        self.window = float(window)
        self._owner = owner
        # One log per scope and window, whatever the limit (see Budget).
        tag = scope_key("budget", scope, repr(self.window))
        self._keys = [f"{_PREFIX}{{{tag}}}:log", f"{_PREFIX}{{{tag}}}:blocked"]
        self._seq = f"{_PREFIX}{{{tag}}}:seq"
        self._limit_key = f"{_PREFIX}{{{tag}}}:limit"

    def reserve(self) -> float:
        micros = self._owner._call(
            self._owner._reserve,
            [*self._keys, self._seq, self._limit_key],
            [self.limit, round(self.window * 1_000_000)],
        )
        return max(0.0, int(micros) / 1_000_000)

    def learn(self, limit: int) -> None:
        ttl = max(1, round(self.window * 2000))  # two windows, as Budget.learn says
        client = self._owner._client

        def store(keys: list[str], args: list[Any]) -> Any:
            return client.set(keys[0], args[0], px=args[1])

        self._owner._call(store, [self._limit_key], [str(max(1, int(limit))), ttl])

    def block_until(self, wall_time: float) -> None:
        delta = wall_time - time.time()
        if 0 < delta <= 3600.0:  # a garbage Reset (inf) never blocks every worker for ever
            self._owner._call(self._owner._block, [self._keys[1]], [round(delta * 1_000_000)])


class RedisCoordinator(Coordinator):
    """Coordination between every process on every host that uses one Redis server.

    ``url`` is a redis-py URL (``redis://[[user]:password@]host:port/db``, ``rediss://`` for
    TLS). The server is pinged at once: unreachable → :class:`~segmentkit.ConfigurationError`
    naming the URL without its password. Later failures raise
    :class:`~segmentkit.CoordinationError`.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 3.0,
        socket_timeout: float = 5.0,
    ) -> None:
        try:
            import redis as redis_py
        except ModuleNotFoundError:
            raise ConfigurationError(
                "coordination 'redis' needs redis-py: pip install 'segmentkit[redis]'"
            ) from None
        self.url = shown_url(url)
        self.socket_timeout = socket_timeout
        self._secret = _password(url)
        self._errors: tuple[type[BaseException], ...] = (redis_py.RedisError, OSError)
        try:
            self._client: redis_py.Redis = redis_py.Redis.from_url(
                url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
            )
            self._client.ping()
        except (*self._errors, ValueError) as exc:
            raise ConfigurationError(
                f"coordination: cannot use Redis at {self.url}: {self._describe(exc)}"
            ) from None
        self._reserve = self._client.register_script(_RESERVE)
        self._block = self._client.register_script(_BLOCK)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except self._errors as exc:
            raise CoordinationError(
                f"coordination: Redis at {self.url} failed: {self._describe(exc)}"
            ) from None

    def _acquire(self, scope: str, key: str, token: str, timeout: float, ttl: float) -> float:
        """Take the lock; return the monotonic time the winning ``SET`` was sent."""
        deadline = time.monotonic() + max(0.0, timeout)
        delay = 0.005
        while True:
            sent = time.monotonic()
            try:
                got = self._client.set(key, token, nx=True, px=max(1, round(ttl * 1000)))
            except self._errors as exc:
                raise CoordinationError(
                    f"coordination: Redis at {self.url} failed: {self._describe(exc)}"
                ) from None
            if got:
                return sent
            left = deadline - time.monotonic()
            if left <= 0:
                raise _lock_timeout(scope, timeout)
            time.sleep(min(left, delay * (0.5 + random.random())))  # jitter
            delay = min(delay * 2, 0.1)

    @contextmanager
    def _held(self, scope: str, timeout: float, ttl: float) -> Iterator[Lease]:
        key = f"{_PREFIX}lock:{scope_key('lock', scope)}"
        token = secrets.token_hex(16)
        sent = self._acquire(scope, key, token, timeout, ttl)
        lease = _RedisLease(self, scope, key, token, ttl, sent)
        try:
            yield lease
        except BaseException:
            try:
                lease.release()
            except CoordinationError as exc:  # the body's own error is the one to report
                log.warning("segment lock release after an error failed: %s", exc)
            raise
        lease.release()

    def lock(
        self, scope: str, *, timeout: float = 120.0, ttl: float = 30.0
    ) -> AbstractContextManager[Lease]:
        # 30 s, renewed every 10 s while held: a SIGKILLed holder frees the segment within
        # 30 s, well inside the default lock wait (120 s); 300 s outlasted that wait.
        return self._held(scope, timeout, ttl)

    def budget(self, scope: str, *, limit: int, window: float) -> Budget:
        return _RedisBudget(self, scope, limit, window)

    def close(self) -> None:
        """Close the connections to Redis."""
        with contextlib.suppress(*self._errors):
            self._client.close()
