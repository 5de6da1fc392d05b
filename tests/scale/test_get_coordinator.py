"""get_coordinator(spec): names, the environment, the default, caching, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentkit import ConfigurationError
from segmentkit.coordination import LocalCoordinator, get_coordinator
from segmentkit.coordination.host import HostCoordinator
from segmentkit.coordination.redis import RedisCoordinator


@pytest.fixture(autouse=True)
def _private_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("SEGMENTKIT_COORDINATION", raising=False)
    monkeypatch.setattr("segmentkit.coordination._CACHE", {})


def test_default_is_host(tmp_path: Path) -> None:
    coord = get_coordinator(None)
    assert isinstance(coord, HostCoordinator)
    assert coord.name == "host"
    assert coord.directory == tmp_path / "segmentkit"
    assert get_coordinator("host") is coord  # one instance per spec per process


def test_environment_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENTKIT_COORDINATION", "local")
    assert isinstance(get_coordinator(), LocalCoordinator)
    monkeypatch.setenv("SEGMENTKIT_COORDINATION", " HOST ")
    assert isinstance(get_coordinator(), HostCoordinator)
    assert isinstance(get_coordinator("local"), LocalCoordinator)  # explicit wins


def test_redis_spec_is_cached(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    coord = get_coordinator(redis_url)
    assert isinstance(coord, RedisCoordinator)
    assert get_coordinator(redis_url) is coord
    monkeypatch.setenv("SEGMENTKIT_COORDINATION", redis_url)
    assert get_coordinator() is coord


def test_unknown_backend_is_refused_without_echoing_a_secret() -> None:
    with pytest.raises(ConfigurationError) as info:
        get_coordinator("memcached://user:hunter22@cache:11211")
    assert "hunter22" not in str(info.value)
    assert "memcached://" in str(info.value)
    with pytest.raises(ConfigurationError, match="unknown backend"):
        get_coordinator("cluster")


def test_unreachable_redis_is_a_configuration_error() -> None:
    from ._redis_server import free_port

    with pytest.raises(ConfigurationError, match="cannot use Redis"):
        get_coordinator(f"redis://127.0.0.1:{free_port()}/0")


def test_an_instance_is_passed_through() -> None:
    mine = LocalCoordinator()
    assert get_coordinator(mine) is mine
