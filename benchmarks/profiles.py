"""The profiles behind issue 14's rows: ``python -m benchmarks.profiles`` prints the top
entries (own time) of

* sync planning, ``plan_sync("email", 100k Recipient, 100k address strings)``;
* one client thread sending allstech ``add_member`` POSTs to the in-process fake (the bulk
  row's per-request CPU), plus the thread CPU per POST measured without the profiler;
* ``segmentkit --help`` (its imports);
* ``segments.list()`` of 1,000 segments and ``recipients.list()`` of 20,000 allstech members
  against fixed documents (the listing rows' server).

Not a benchmark (no RESULTS.md rows): what it prints goes into RESULTS.md's notes by hand.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from typing import Any

N_PLAN = 100_000
N_POSTS = 150


def _top(profile: Any, n: int = 12) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(line for line in lines[start:] if line.strip())


def sync_plan() -> str:
    from segmentkit import Recipient
    from segmentkit.sync import plan_sync

    current = [Recipient(id=str(i), email=f"user{i:06d}@example.com") for i in range(N_PLAN)]
    desired = [f"user{i:06d}@example.com" for i in range(N_PLAN // 2, N_PLAN + N_PLAN // 2)]
    plan_sync("email", current[:10], desired[:10])
    start = time.process_time()
    plan_sync("email", current, desired)
    cpu = time.process_time() - start
    profile = cProfile.Profile()
    profile.runcall(plan_sync, "email", current, desired)
    return f"plan_sync CPU {cpu / N_PLAN * 1e6:.1f} µs per desired item (unprofiled)\n" + _top(
        profile
    )


def posts() -> str:
    from segmentkit import Recipient

    from ._harness import serve

    people = [
        Recipient(email=f"p{i:05d}@example.com", first_name=f"F{i}", last_name="L")
        for i in range(N_POSTS)
    ]
    with serve("allstech") as srv:
        client = srv.client(concurrency=1)
        adapter = client.adapter
        sid = str(srv.platform.add_segment("profile"))
        adapter.add_member(sid, people[0])  # warm
        start = time.thread_time()
        for r in people[1 : N_POSTS // 2]:
            adapter.add_member(sid, r)
        cpu = (time.thread_time() - start) / (N_POSTS // 2 - 1)
        profile = cProfile.Profile()
        profile.enable()
        for r in people[N_POSTS // 2 :]:
            adapter.add_member(sid, r)
        profile.disable()
    return f"client thread CPU per POST {cpu * 1e3:.2f} ms (unprofiled)\n" + _top(profile)


def _listing(provider: str, seed: Any, count: Any, n: int) -> str:
    import re

    from segmentkit import connect

    from . import _fixed
    from ._harness import registry, serve
    from ._providers import UNLIMITED

    with serve(provider, **UNLIMITED.get(provider, {})) as srv:
        ident = seed(srv.platform)
        client = srv.client()
        recorded = _fixed.record(srv, client, lambda: count(client, ident))
        client.close()
        with _fixed.FixedServer(recorded.answers) as fixed:
            dsn = re.sub(r"@127\.0\.0\.1:\d+", f"@127.0.0.1:{fixed.port}", srv.dsn())
            fc = connect(dsn, registry=registry(provider))
            count(fc, ident)  # warm
            start = time.process_time()
            count(fc, ident)
            cpu = time.process_time() - start
            profile = cProfile.Profile()
            profile.runcall(count, fc, ident)
            fc.close()
    return f"CPU {cpu / n * 1e6:.1f} µs per item (unprofiled)\n" + _top(profile)


def segments_list() -> str:
    def seed(platform: Any) -> None:
        for i in range(1000):
            platform.add_segment(f"segment {i:05d}", "custom")

    return _listing("notificator", seed, lambda c, _: sum(1 for _ in c.segments.list()), 1000)


def members_list() -> str:
    def seed(platform: Any) -> str:
        sid = str(platform.add_segment("members"))
        for i in range(20_000):
            platform.add_recipient(sid, f"person{i:06d}@example.com", f"F{i}", "L")
        return sid

    return _listing("allstech", seed, lambda c, sid: sum(1 for _ in c.recipients.list(sid)), 20_000)


def cli_help() -> str:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from segmentkit.cli import main; main(['-h'])"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, total, name = (part.strip() for part in line[12:].split("|"))
            rows.append((int(own), int(total), name))
    rows.sort(reverse=True)
    body = "\n".join(
        f"{own / 1e3:7.1f} ms own {total / 1e3:7.1f} ms total  {name}"
        for own, total, name in rows[:12]
    )
    return f"segmentkit -h: {len(rows)} modules imported\n{body}"


def main() -> None:
    for title, fn in (
        ("sync planning", sync_plan),
        ("allstech POSTs", posts),
        ("--help", cli_help),
        ("segments.list 1000 (fixed documents)", segments_list),
        ("recipients.list 20000 e-mails (fixed documents)", members_list),
    ):
        print(f"== {title}\n{fn()}\n", flush=True)


if __name__ == "__main__":
    main()
