"""Fixtures of the scale tests: a real Redis server, private host runtime directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._redis_server import RedisServer, in_ci, redis_missing_reason


def _need_redis() -> None:
    reason = redis_missing_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason}; under CI the Redis tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real ``redis-server`` for the session (tests use distinct scopes)."""
    _need_redis()
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def make_redis() -> Iterator[Callable[..., RedisServer]]:
    """Start private servers (to kill, or with a password); all stopped at teardown."""
    _need_redis()
    started: list[RedisServer] = []

    def make(*, password: str | None = None) -> RedisServer:
        server = RedisServer(password=password).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for s in started:
            s.stop()


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    """A private runtime directory for the host backend (0700)."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    return path
