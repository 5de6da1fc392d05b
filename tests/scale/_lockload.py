"""Three PROCESSES on one host adding to one 66text segment (issue 12 §1, concurrent writers).

66text rewrites a segment's whole member list on every change (API-SPEC §1.6), so two
processes that read-modify-write it at once lose each other's members unless they share the
segment lock. Each worker calls only the public API (``segmentkit.connect`` +
``client.recipients.add``) and writes one JSON line per call; the parent compares what was
reported ``added`` with the members at the end. Shared by ``test_processes_lock.py`` (which
asserts, default ``host`` backend) and the report's before figure (``coordination="local"``:
each process locks alone). Run ``python -m tests.scale._lockload`` for both figures.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKERS = 3
PER_WORKER = 60
CHUNK = 5

SPAWN = multiprocessing.get_context("spawn")


def phone(worker: int, i: int) -> str:
    return f"+39333{2_000_000 + worker * 1000 + i:07d}"


def worker_main(
    dsn: str, spec: str | None, sid: str, worker: int, out: str, go: Any, per_worker: int
) -> None:
    import segmentkit

    extra: dict[str, Any] = {} if spec is None else {"coordination": spec}
    with open(out, "a", encoding="utf-8") as fh:

        def report(**row: Any) -> None:
            fh.write(json.dumps(row) + "\n")
            fh.flush()

        client = segmentkit.connect(dsn, **extra)
        phones = [phone(worker, i) for i in range(per_worker)]
        go.wait(30)  # start together: the race is what is measured
        for start in range(0, len(phones), CHUNK):
            chunk = phones[start : start + CHUNK]
            try:
                result = client.recipients.add(sid, chunk)
            except Exception as exc:
                report(kind="error", error=f"{type(exc).__name__}: {exc}")
                continue
            report(kind="add", items=[[chunk[o.index], o.status.value] for o in result.items])
        client.close()
        report(kind="done")


@dataclass
class Figures:
    seg_type: str
    backend: str
    added: int = 0
    lost: int = 0
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{WORKERS} processes x {self.seg_type} x {self.backend}: lost {self.lost} of "
            f"{self.added} reported added, wall {self.wall:.1f} s"
            + (f", errors {len(self.errors)} (first: {self.errors[0]})" if self.errors else "")
            + (f", unfinished {self.unfinished}" if self.unfinished else "")
        )


def run(
    seg_type: str,
    spec: str | None,
    tmp: Path,
    *,
    per_worker: int = PER_WORKER,
    timeout: float = 90.0,
) -> Figures:
    """One run against a fresh fake whose limiter never binds (the race is the subject)."""
    from segmentkit.testing import fake

    figures = Figures(seg_type=seg_type, backend=spec or "default")
    with fake(
        "notificator", "socket", rate_limit=100_000, rate_window=60.0, seed_type=seg_type
    ) as srv:
        sid = srv.platform.seed_segment("lock", [])
        outs = [tmp / f"lock-{seg_type}-{figures.backend}-{w}.jsonl" for w in range(WORKERS)]
        for o in outs:
            o.unlink(missing_ok=True)
        go = SPAWN.Event()
        procs = [
            SPAWN.Process(
                target=worker_main,
                args=(srv.dsn(), spec, sid, w, str(o), go, per_worker),
                daemon=True,
            )
            for w, o in enumerate(outs)
        ]
        for p in procs:
            p.start()
        time.sleep(0.5)  # let the spawned interpreters import; they all wait on `go`
        started = time.monotonic()
        go.set()
        deadline = started + timeout
        try:
            for p in procs:
                p.join(max(0.1, deadline - time.monotonic()))
            figures.wall = time.monotonic() - started
        finally:
            for w, p in enumerate(procs):
                if p.is_alive():
                    figures.unfinished.append(w)
                    p.kill()
                    p.join(5)
        members = {r.phone for r in srv.client().recipients.list(sid)}
    for w, o in enumerate(outs):
        rows = [json.loads(line) for line in o.read_text(encoding="utf-8").splitlines()]
        if not any(r["kind"] == "done" for r in rows) and w not in figures.unfinished:
            figures.unfinished.append(w)
        for r in rows:
            if r["kind"] == "error":
                figures.errors.append(r["error"])
            for item, status in r.get("items", []):
                if status == "added":
                    figures.added += 1
                    figures.lost += item not in members
    return figures


def main() -> int:
    """Print the before (``local``: each process locks alone) and after (default) figures."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "xdg"
        runtime.mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        for seg_type in ("custom", "bulk"):
            for spec in ("local", None):
                for _ in range(runs):
                    print(run(seg_type, spec, Path(tmp)).line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
