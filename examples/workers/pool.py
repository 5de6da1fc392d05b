"""Sync shards of one audience into ONE segment from a pool of worker processes.

Every worker shares the platform's rate limit and the segment's member list with the others
(66text rewrites the list whole on each change), so they must coordinate: pass the same
``coordination`` to every ``segmentkit.connect`` — ``"host"`` (the default: every process of
this user on this machine) or ``"redis://host:6379/0"`` (workers on several machines; needs
``pip install 'segmentkit[redis]'``).

Real account (DSN and coordination from the environment)::

    export SEGMENTKIT_DSN='notificator://API_KEY@notificatorsms.com'
    export SEGMENTKIT_COORDINATION='redis://127.0.0.1:6379/0'     # or leave unset: host
    python examples/workers/pool.py SEGMENT_ID phones.txt --workers 4

Demo against the local 66text fake (no keys, no network; limiter scaled to 30 req / 3 s)::

    python examples/workers/pool.py --demo [--coordination redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections import Counter
from pathlib import Path

import segmentkit

_client: segmentkit.Client | None = None
_failed: Exception | None = None


def _start_worker(coordination: str | None, options: dict[str, float]) -> None:
    """Pool initializer: one client per worker process, reused for every shard.

    It must not raise: a pool restarts workers whose initializer fails, forever. The error
    is raised by the first task instead, which ends the pool's ``imap``.
    """
    global _client, _failed
    kwargs = {"coordination": coordination} if coordination else {}
    try:
        _client = segmentkit.connect(None, **kwargs, **options)  # the DSN: SEGMENTKIT_DSN
    except segmentkit.SegmentkitError as exc:
        _failed = exc


def _add_shard(job: tuple[str, list[str]]) -> dict[str, int]:
    segment_id, phones = job
    if _client is None:
        raise RuntimeError(f"worker could not connect: {_failed}")
    result = _client.recipients.add(segment_id, phones)
    return result.counts


def sync(
    segment_id: str,
    phones: list[str],
    *,
    workers: int,
    coordination: str | None,
    options: dict[str, float] | None = None,
    shard_size: int = 10,
) -> Counter[str]:
    """Add ``phones`` to the segment in shards of ``shard_size`` across ``workers`` processes."""
    shards = [(segment_id, phones[i : i + shard_size]) for i in range(0, len(phones), shard_size)]
    totals: Counter[str] = Counter()
    ctx = multiprocessing.get_context("spawn")  # no forked locks or sockets
    with ctx.Pool(
        workers, initializer=_start_worker, initargs=(coordination, options or {})
    ) as pool:
        for counts in pool.imap_unordered(_add_shard, shards):
            totals.update(counts)
    return totals


def demo(workers: int, coordination: str | None) -> int:
    from segmentkit.testing import fake

    phones = [f"+39333{i:07d}" for i in range(60)]
    # The documented profile: a plain fixed window (v2.0.1 adds a whole-second tail, API-SPEC
    # 1.11c, which the declared 66text limit covers at its real 60 s window, not at 3 s).
    with fake("notificator", "socket", profile="documented", rate_limit=30, rate_window=3.0) as srv:
        segment_id = srv.platform.seed_segment("pool demo")
        os.environ["SEGMENTKIT_DSN"] = srv.dsn()  # inherited by the spawned workers
        # The fake's limit (30) is below 66text's declared one (60): one request through the
        # shared budget learns it for every worker (Budget.learn), so they do not start at 60.
        kwargs = {"coordination": coordination} if coordination else {}
        with segmentkit.connect(srv.dsn(), rate_limit_window=3.0, **kwargs) as probe:
            probe.segments.get(segment_id)
        totals = sync(
            segment_id,
            phones,
            workers=workers,
            coordination=coordination,
            options={"rate_limit_window": 3.0},  # the fake's scaled-down window
        )
        # Count the workers' refusals before the demo's own read-back, whose client does not
        # share the workers' budget (a different window) and may meet the window they filled.
        throttled = srv.log.count(status=429)
        members = {r.phone for r in srv.client().recipients.list(segment_id)}
    lost = sum(1 for p in phones if p not in members)
    print(f"outcomes {dict(totals)}; members {len(members)}; lost {lost}; 429s {throttled}")
    return 0 if lost == 0 and totals.get("added") == len(phones) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("segment", nargs="?", help="segment id")
    parser.add_argument("phones", nargs="?", type=Path, help="file with one phone per line")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--coordination", help="host | local | redis://...; default: env/host")
    parser.add_argument("--demo", action="store_true", help="run against the local fake")
    args = parser.parse_args(argv)
    if args.demo:
        return demo(args.workers, args.coordination)
    if not args.segment or not args.phones:
        parser.error("SEGMENT and PHONES are required (or --demo)")
    phones = [line.strip() for line in args.phones.read_text().splitlines() if line.strip()]
    totals = sync(args.segment, phones, workers=args.workers, coordination=args.coordination)
    print(dict(totals))
    return 0 if not totals.get("failed") and not totals.get("rejected") else 1


if __name__ == "__main__":
    sys.exit(main())
