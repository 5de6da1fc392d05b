"""The redis backend against a real redis-server: failures, expiry, budget semantics."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from segmentkit import ConfigurationError, CoordinationError, LockTimeoutError
from segmentkit.coordination import scope_key
from segmentkit.coordination.redis import RedisCoordinator, shown_url

from ._redis_server import RedisServer, free_port


def _scope(name: str) -> str:
    return scope_key("test-redis", name, str(time.time_ns()))


def test_unreachable_at_start_is_a_configuration_error_without_the_password() -> None:
    port = free_port()
    url = f"redis://:Pa55-w0rd-xyz@127.0.0.1:{port}/0"
    with pytest.raises(ConfigurationError) as info:
        RedisCoordinator(url, connect_timeout=1)
    text = str(info.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in text
    assert "Pa55-w0rd-xyz" not in text
    assert info.value.__suppress_context__  # no chained redis-py error shown in tracebacks


def test_wrong_password_is_a_configuration_error_without_it(
    make_redis: Callable[..., RedisServer],
) -> None:
    server = make_redis(password="right-pw-123")
    with pytest.raises(ConfigurationError) as info:
        RedisCoordinator(f"redis://:wrong-pw-456@127.0.0.1:{server.port}/0")
    assert "wrong-pw-456" not in str(info.value)
    coord = RedisCoordinator(server.url)  # the right one works
    assert coord.budget(_scope("pw"), limit=5, window=1).reserve() == 0.0
    assert "right-pw-123" not in repr(coord.url)


def test_shown_url_never_contains_the_password() -> None:
    assert shown_url("redis://u:p%40ss@h.example:6380/2?x=1") == "redis://u:***@h.example:6380/2"
    assert shown_url("rediss://:sekrit@[::1]:6379/0") == "rediss://:***@[::1]:6379/0"
    assert shown_url("redis://h/0") == "redis://h/0"
    assert "sekrit" not in shown_url("redis://:sekrit@h:notaport/0")


def test_budget_matches_the_local_semantics(redis_url: str) -> None:
    budget = RedisCoordinator(redis_url).budget(_scope("sem"), limit=3, window=10.0)
    waits = [budget.reserve() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    # Slots 4..6 open when slots 1..3 leave the window (measured from Redis TIME).
    assert all(9.5 < w <= 10.0 for w in waits[3:]), waits


def test_block_until_delays_every_worker(redis_url: str) -> None:
    scope = _scope("block")
    one = RedisCoordinator(redis_url).budget(scope, limit=100, window=1.0)
    other = RedisCoordinator(redis_url).budget(scope, limit=100, window=1.0)
    one.block_until(time.time() + 5)
    assert 4.0 < other.reserve() <= 5.0
    one.block_until(time.time() - 5)  # never moves the block earlier
    assert 3.0 < other.reserve() <= 5.0


def test_lock_wait_is_bounded(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    scope = _scope("timeout")
    with coord.lock(scope, ttl=5), pytest.raises(LockTimeoutError) as info:
        with coord.lock(scope, timeout=0.2):
            pass
    assert info.value.timeout == 0.2
    with coord.lock(scope, timeout=1):  # released: free again
        pass


def test_lock_is_renewed_while_held(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    scope = _scope("renew")
    with coord.lock(scope, ttl=0.6) as lease:
        time.sleep(1.5)  # longer than the TTL: the renewal thread keeps it
        lease.check()
        with pytest.raises(LockTimeoutError):
            with coord.lock(scope, timeout=0.3, ttl=0.6):
                pass


def test_a_lock_taken_over_is_reported_never_ignored(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    raw = redis.Redis.from_url(redis_url)
    scope = _scope("lost")
    with pytest.raises(CoordinationError, match="lost"):
        with coord.lock(scope, ttl=0.6) as lease:
            (key,) = raw.keys("segmentkit:lock:*" + scope_key("lock", scope))
            raw.set(key, b"another-worker")  # as if it expired and someone else took it
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                lease.check()  # raises once the renewal saw it
                time.sleep(0.05)
    assert raw.get(key) == b"another-worker"  # release never deletes another's lock
    raw.close()


def test_redis_killed_mid_run_is_a_coordination_error(
    make_redis: Callable[..., RedisServer],
) -> None:
    server = make_redis()
    coord = RedisCoordinator(server.url, connect_timeout=1, socket_timeout=2)
    budget = coord.budget(_scope("kill"), limit=10, window=1.0)
    assert budget.reserve() == 0.0
    with pytest.raises(CoordinationError):
        with coord.lock(_scope("kill-lock"), ttl=5) as lease:
            server.kill()
            lease.check()  # still within its TTL: nothing known to be wrong yet
    # ^ released at the end of the block: Redis is gone, so that is an error, not silence.
    with pytest.raises(CoordinationError):
        budget.reserve()
    with pytest.raises(CoordinationError):
        budget.block_until(time.time() + 1)
    with pytest.raises(CoordinationError):
        with coord.lock(_scope("kill-lock-2"), timeout=1):
            pass


def test_body_error_wins_over_a_failed_release(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis()
    coord = RedisCoordinator(server.url, connect_timeout=1, socket_timeout=2)
    with pytest.raises(KeyError):
        with coord.lock(_scope("body"), ttl=5):
            server.kill()
            raise KeyError("the body's own failure")


def test_missing_redis_py_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r"segmentkit\[redis\]"):
        RedisCoordinator("redis://127.0.0.1:1/0")


def test_lock_timeout_names_the_scope_given(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    scope = _scope("named")
    with coord.lock(scope, ttl=5), pytest.raises(LockTimeoutError) as info:
        with coord.lock(scope, timeout=0.05):
            pass
    assert info.value.scope == scope


def test_a_lock_that_vanished_is_reported_at_release(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    raw = redis.Redis.from_url(redis_url)
    scope = _scope("vanished")
    with pytest.raises(CoordinationError, match="expired before it was released"):
        with coord.lock(scope, ttl=30):
            assert raw.delete(f"segmentkit:lock:{scope_key('lock', scope)}") == 1
    raw.close()
