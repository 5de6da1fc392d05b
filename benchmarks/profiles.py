"""The profiles behind issue 14's rows: ``python -m benchmarks.profiles`` prints the top
entries (own time) of

* sync planning, ``plan_sync("email", 100k Recipient, 100k address strings)``;
* one client thread sending allstech ``add_member`` POSTs to the in-process fake (the bulk
  row's per-request CPU), plus the thread CPU per POST measured without the profiler;
* ``segmentkit --help`` (its imports).

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
    ):
        print(f"== {title}\n{fn()}\n", flush=True)


if __name__ == "__main__":
    main()
