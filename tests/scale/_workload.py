"""Several worker PROCESSES adding and removing members of one 66text segment (issue 15).

Shared by ``tests/scale/test_workers.py`` (which asserts) and ``benchmarks/workers.py`` (which
prints the figures). The notificator fake runs on a loopback socket in the parent with its
fixed-window limiter scaled down (30 requests per 3 s); each worker is a spawned process that
calls only the public API: ``segmentkit.connect(dsn, coordination=spec)`` and
``client.recipients.add`` / ``remove``, writing one JSON line per call to its own file
(flushed at once, so a SIGKILLed worker's reports up to its death are kept).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIMIT = 30
WINDOW = 3.0
ADDS_PER_WORKER = 10
REMOVES_PER_WORKER = 5
CHUNK = 5

SPAWN = multiprocessing.get_context("spawn")


def phone(worker: int, i: int, kind: str) -> str:
    """A distinct valid Italian mobile number per (worker, i, kind)."""
    base = 1_000_000 if kind == "add" else 5_000_000
    return f"+39331{base + worker * 1000 + i:07d}"


def worker_main(
    dsn: str,
    spec: str | None,
    sid: str,
    worker: int,
    out: str,
    options: dict[str, Any],
) -> None:
    """One worker: add its phones, then remove its seeded members, CHUNK items a call."""
    import segmentkit

    extra: dict[str, Any] = dict(options)
    if spec is not None:
        extra["coordination"] = spec
    with open(out, "a", encoding="utf-8") as fh:

        def report(**row: Any) -> None:
            fh.write(json.dumps(row) + "\n")
            fh.flush()

        try:
            client = segmentkit.connect(dsn, **extra)
        except Exception as exc:  # the figures say why nothing ran
            report(kind="error", error=f"{type(exc).__name__}: {exc}")
            return
        adds = [phone(worker, i, "add") for i in range(ADDS_PER_WORKER)]
        removes = [phone(worker, i, "seed") for i in range(REMOVES_PER_WORKER)]
        report(kind="started")
        for op, items in [("add", adds), ("remove", removes)]:
            for start in range(0, len(items), CHUNK):
                chunk = items[start : start + CHUNK]
                try:
                    if op == "add":
                        result = client.recipients.add(sid, chunk)
                    else:
                        result = client.recipients.remove(sid, chunk)
                except Exception as exc:
                    report(kind="error", op=op, error=f"{type(exc).__name__}: {exc}")
                    continue
                report(
                    kind=op,
                    items=[[chunk[o.index], o.status.value, o.reason] for o in result.items],
                )
        client.close()
        report(kind="done")


@dataclass
class Figures:
    """What one run measured."""

    workers: int
    backend: str
    lost: int = 0  # reported ``added`` but missing at the end
    remaining: int = 0  # reported ``removed`` but still there at the end
    got_429: int = 0
    requests: int = 0
    share: float | None = None  # accepted requests / capacity of the full windows spanned
    wall: float = 0.0
    killed: int | None = None
    errors: list[str] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    secret: str = field(default="", repr=False)  # the fake account's API key, for leak checks

    def line(self) -> str:
        share = "n/a" if self.share is None else f"{self.share:.2f}"
        return (
            f"{self.workers} worker(s) x {self.backend}: lost {self.lost}, "
            f"removed-but-present {self.remaining}, 429s {self.got_429}, "
            f"limit used {share}, wall {self.wall:.1f} s, requests {self.requests}"
            + (f", errors {len(self.errors)} (first: {self.errors[0]})" if self.errors else "")
            + (f", unfinished workers {self.unfinished}" if self.unfinished else "")
        )


def share_of_limit(times: list[float], limit: int = LIMIT, window: float = WINDOW) -> float | None:
    """Requests in the full windows the run spanned (from its first request) / their capacity.

    ``None`` when the run did not span one full window (then the limit never bound it).
    """
    if not times:
        return None
    times = sorted(times)
    full = int((times[-1] - times[0]) // window)
    if full < 1:
        return None
    end = times[0] + full * window
    return sum(1 for t in times if t < end) / (full * limit)


def run(
    workers: int,
    spec: str | None,
    tmp: Path,
    *,
    kill_one_after: int | None = None,
    options: dict[str, Any] | None = None,
    timeout: float = 150.0,
) -> Figures:
    """Run ``workers`` processes with coordination ``spec`` against a fresh fake.

    ``kill_one_after``: SIGKILL worker 0 once it reported that many calls.
    ``options``: extra connect() keywords (default: ``rate_limit_window=WINDOW``, the
    scaled-down window; the session then keeps a 100 ms latency margin instead of the
    production whole-second one, see Session).
    """
    from segmentkit import Recipient
    from segmentkit.testing import fake

    options = {"rate_limit_window": WINDOW} if options is None else options
    figures = Figures(workers=workers, backend=_backend_name(spec))
    with fake("notificator", "socket", rate_limit=LIMIT, rate_window=WINDOW) as srv:
        seeded = [
            Recipient(phone=phone(w, i, "seed"))
            for w in range(workers)
            for i in range(REMOVES_PER_WORKER)
        ]
        sid = srv.platform.seed_segment("workers", seeded)
        figures.secret = srv.platform.account.api_key
        srv.log.clear()
        outs = [tmp / f"worker-{workers}-{figures.backend}-{w}.jsonl" for w in range(workers)]
        for o in outs:
            o.unlink(missing_ok=True)
        procs = [
            SPAWN.Process(
                target=worker_main, args=(srv.dsn(), spec, sid, w, str(o), options), daemon=True
            )
            for w, o in enumerate(outs)
        ]
        started = time.monotonic()
        for p in procs:
            p.start()
        deadline = started + timeout
        try:
            if kill_one_after is not None:
                while time.monotonic() < deadline and procs[0].is_alive():
                    calls = sum(1 for r in _rows(outs[0]) if r["kind"] in ("add", "remove"))
                    if calls >= kill_one_after:
                        assert procs[0].pid is not None
                        os.kill(procs[0].pid, signal.SIGKILL)
                        figures.killed = 0
                        break
                    time.sleep(0.01)
            for p in procs:
                p.join(max(0.1, deadline - time.monotonic()))
            figures.wall = time.monotonic() - started
        finally:
            for w, p in enumerate(procs):
                if p.is_alive():
                    figures.unfinished.append(w)
                    p.kill()
                    p.join(5)
        records = srv.log.records
        members = {r.phone for r in srv.client().recipients.list(sid)}
    figures.requests = len(records)
    figures.got_429 = sum(1 for r in records if r.status == 429)
    figures.share = share_of_limit([r.at for r in records if r.status != 429])
    for w, o in enumerate(outs):
        rows = _rows(o)
        done = any(r["kind"] == "done" for r in rows)
        if w != figures.killed and not done and w not in figures.unfinished:
            figures.unfinished.append(w)
        for r in rows:
            if r["kind"] == "error":
                figures.errors.append(r["error"])
            for item, status, _reason in r.get("items", []):
                if status == "added":
                    figures.added += 1
                    figures.lost += item not in members
                elif status == "removed":
                    figures.removed += 1
                    figures.remaining += item in members
    return figures


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut by SIGKILL
            continue
    return rows


def _backend_name(spec: str | None) -> str:
    if spec is None:
        return "default"
    return "redis" if spec.startswith("redis") else spec
