"""Workers: 1, 3 and 6 worker PROCESSES adding 10 and removing 5 members each of ONE 66text
segment (notificator fake, limiter scaled down to 30 requests per 3 s), for each coordination
backend (issue 15). Prints, per run: members lost (reported ``added``, missing at the end),
members reported ``removed`` but still present, 429s met, share of the limit used (requests
accepted in the full 3 s windows the run spanned / their capacity) and wall time.

Targets: lost 0, removed-but-present 0, 429s 0, share >= 0.9 (for runs that span a window).

``default`` connects without ``coordination=`` (what an app gets out of the box: the ``host``
backend); ``local`` passes ``coordination="local"`` (each process alone: the uncoordinated
baseline, expected to lose members and meet 429s; not a target); ``redis`` passes
``"redis://127.0.0.1:<port>/0"`` (a real ``redis-server`` started on a free loopback port; the
row is not run when it is absent). ``host`` can be asked for with ``--backends``.

The workload is 10 adds + 5 removes per worker in calls of 5 (about 16 requests a call on the
whole-list segment) so the 9 runs take about 3 minutes on 2 cores.

``python -m benchmarks workers`` (part of ``make bench``), or ``python -m benchmarks.workers
[--workers 1 3 6] [--backends default host redis]`` to print the figures only.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.scale import _workload
from tests.scale._redis_server import RedisServer, redis_missing_reason

from ._harness import NotRunError, Row, log

NAME = "workers"
TITLE = "1/3/6 worker processes on one 66text segment (30 req / 3 s): lost, 429s, limit used"

WORKERS = (1, 3, 6)
BACKENDS = ("default", "local", "redis")
CHOICES = ("default", "host", "local", "redis")
BASELINE = "local"  # uncoordinated: measured, not held to the targets


def measure(
    workers: tuple[int, ...] = WORKERS, backends: tuple[str, ...] = BACKENDS
) -> list[_workload.Figures]:
    """Run every (backend, workers) pair; print one line per run as it ends."""
    out: list[_workload.Figures] = []
    server: RedisServer | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="segmentkit-workers-") as tmp:
            for backend in backends:
                spec: str | None
                if backend == "default":
                    spec = None
                elif backend == "redis":
                    missing = redis_missing_reason()
                    if missing:
                        log(f"   redis: not run: {missing}")
                        continue
                    if server is None:
                        server = RedisServer().start()
                    spec = server.url
                else:
                    spec = backend
                for n in workers:
                    fig = _workload.run(n, spec, Path(tmp))
                    log(f"   {fig.line()}")
                    out.append(fig)
    finally:
        if server is not None:
            server.stop()
    return out


def _ok(fig: _workload.Figures) -> bool:
    return (
        not fig.errors
        and not fig.unfinished
        and fig.lost == 0
        and fig.remaining == 0
        and fig.got_429 == 0
        and (fig.share is None or fig.share >= 0.9)
    )


def run() -> list[Row]:
    figures = measure()
    rows = [
        Row(
            name=f"workers[{f.workers}x{f.backend}]",
            ratio="n/a" if f.share is None else f"{f.share:.2f} of limit",
            figures=(
                f"lost {f.lost}/{f.added} added; removed-but-present {f.remaining}; "
                f"429s {f.got_429}; {f.requests} requests; {f.wall:.1f} s"
            ),
            notes="ok" if _ok(f) else ("; ".join(sorted(set(f.errors)))[:160] or "target missed"),
        )
        for f in figures
    ]
    failing = [f for f in figures if not _ok(f) and f.backend != BASELINE]
    if failing:
        raise NotRunError(
            f"{len(failing)} coordinated run(s) missed the targets: "
            + "; ".join(f.line() for f in failing[:2]),
            rows,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=CHOICES)
    args = parser.parse_args(argv)
    figures = measure(tuple(args.workers), tuple(args.backends))  # logs one line per run
    return 0 if all(_ok(f) for f in figures if f.backend != BASELINE) else 1


if __name__ == "__main__":
    raise SystemExit(main())
