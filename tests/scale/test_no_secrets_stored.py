"""Nothing secret reaches Redis or the host runtime directory.

Scopes are built the way adapters build them (provider + credential + segment), and also
passed raw, to prove that the backends hash whatever they are given.
"""

from __future__ import annotations

from pathlib import Path

import redis

from segmentkit.coordination import scope_key
from segmentkit.coordination.host import HostCoordinator
from segmentkit.coordination.redis import RedisCoordinator

SECRET = "sk_live_ZmFrZS1zZWNyZXQtdG9rZW4"


def _exercise(coord: HostCoordinator | RedisCoordinator) -> None:
    for scope in (scope_key("notificator", SECRET, "127.0.0.1"), f"notificator|{SECRET}"):
        budget = coord.budget(scope, limit=5, window=30.0)
        for _ in range(3):
            budget.reserve()
        budget.block_until(0.0)
        with coord.lock(f"{scope}|segment-9", ttl=5) as lease:
            lease.check()
        lease_scope = f"{scope}|held"
        with coord.lock(lease_scope, ttl=5):
            pass


def test_no_credential_in_redis(redis_url: str) -> None:
    coord = RedisCoordinator(redis_url)
    raw = redis.Redis.from_url(redis_url)
    with coord.lock(f"notificator|{SECRET}|still-held", ttl=5):
        _exercise(coord)
        dump: list[bytes] = []
        for key in raw.scan_iter(count=1000):
            dump.append(key)
            kind = raw.type(key)
            if kind == b"string":
                dump.append(raw.get(key) or b"")
            elif kind == b"zset":
                for member, score in raw.zrange(key, 0, -1, withscores=True):
                    dump += [member, repr(score).encode()]
            else:
                raise AssertionError(f"unexpected key type {kind!r}")
    raw.close()
    assert any(k.startswith(b"segmentkit:") for k in dump), "nothing was stored"
    blob = b"\n".join(dump)
    assert SECRET.encode() not in blob
    assert b"notificator" not in blob


def test_no_credential_on_disk(host_dir: Path) -> None:
    coord = HostCoordinator(host_dir)
    with coord.lock(f"notificator|{SECRET}|still-held"):
        _exercise(coord)
        files = [p for p in host_dir.rglob("*") if p.is_file()]
        assert files, "nothing was written"
        for p in files:
            assert SECRET not in p.name
            data = p.read_bytes()
            assert SECRET.encode() not in data
            assert b"notificator" not in data
