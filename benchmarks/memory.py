"""Memory: iterating every member of a notificator ``filter`` segment over 200,000 contacts
(200 pages of 1,000) must stream — peak memory must not grow with the number of pages.

The fake runs in its own process (seeded directly, not over HTTP) and each measurement runs
in a fresh client process, so the figures are the client's alone: ``tracemalloc`` peak
(Python allocations) and the growth of RSS high-water mark (``VmHWM``) over the iteration,
from the same run (so the members/s figure includes tracemalloc's slow-down).
50,000 vs 200,000 contacts: a streaming client shows a ratio near 1, a buffering one near 4.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
import time
from typing import Any

from ._harness import NotRunError, Row, check

NAME = "memory"
TITLE = "memory while iterating 200,000 filter-segment members (notificator)"

SIZES = (50_000, 200_000)


def _serve(n: int, conn: Any) -> None:
    """Child process: a seeded fake on 127.0.0.1 until told to stop."""
    import segmentkit_notificator.provider as prov
    from segmentkit import create_registry
    from segmentkit.testing import FakeServer

    from ._sms import ScaleNotificator

    platform = ScaleNotificator(rate_limit=10**9)
    platform.seed_contacts(n, lambda i: {"tier": "gold"})
    sid = platform.add_segment("everyone gold", "filter", filters=[("tier", "exact", "gold")])
    reg = create_registry(entry_points=False, plugins=[prov], env={})
    with FakeServer(platform, "socket", registry=reg) as srv:
        conn.send({"dsn": srv.dsn(), "sid": sid, "count": platform.segments[sid].total_contacts})
        conn.recv()  # stop


_CLIENT = r"""
import json, resource, sys, time, tracemalloc
from segmentkit import connect, create_registry
import segmentkit_notificator.provider as prov

def hwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

dsn, sid, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
client = connect(dsn, registry=create_registry(entry_points=False, plugins=[prov], env={}),
                 allow_insecure=True)
client.segments.get(sid)  # warm: imports, connection, caches
base_hwm = hwm_kb()
if trace:
    tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0]
start = time.perf_counter()
count = 0
for r in client.recipients.list(sid):
    count += 1
elapsed = time.perf_counter() - start
out = {"count": count, "seconds": elapsed, "hwm_growth_kb": hwm_kb() - base_hwm}
if trace:
    cur, peak = tracemalloc.get_traced_memory()
    out["traced_peak"] = peak - base_traced
print(json.dumps(out))
"""


def _measure(n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(n, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise NotRunError(f"fake with {n} contacts did not start")
        info = parent.recv()
        out: dict[str, Any] = {"expected": info["count"]}
        for trace in ("1",):  # one run: tracemalloc peak and VmHWM growth together
            done = subprocess.run(
                [sys.executable, "-c", _CLIENT, info["dsn"], str(info["sid"]), trace],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                raise NotRunError(f"client process failed: {done.stderr[-2000:]}")
            res = json.loads(done.stdout.strip().splitlines()[-1])
            check(res["count"] == n, f"iterated {res['count']} members, expected {n}")
            out.update({f"{k}_{'traced' if trace == '1' else 'plain'}": v for k, v in res.items()})
        return out
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def run() -> list[Row]:
    started = time.perf_counter()
    results = {n: _measure(n) for n in SIZES}
    small, big = (results[n] for n in SIZES)
    for n, r in results.items():
        check(r["expected"] == n, f"the fake counts {r['expected']} members, seeded {n}")
    t_ratio = big["traced_peak_traced"] / max(1, small["traced_peak_traced"])
    r_ratio = big["hwm_growth_kb_traced"] / max(1, small["hwm_growth_kb_traced"])
    mib = 1024 * 1024

    def fig(n: int) -> str:
        r = results[n]
        return (
            f"{n:,}: tracemalloc peak {r['traced_peak_traced'] / mib:.1f} MiB, "
            f"RSS HWM +{r['hwm_growth_kb_traced'] / 1024:.1f} MiB, {r['seconds_traced']:.1f} s "
            f"({n / r['seconds_traced']:,.0f} members/s)"
        )

    return [
        Row(
            name="memory[notificator filter 200k vs 50k]",
            ratio=f"peak x{t_ratio:.2f} (tracemalloc), x{r_ratio:.2f} (RSS HWM growth) for "
            f"{SIZES[1] // SIZES[0]}x the pages",
            figures=f"{fig(SIZES[0])}; {fig(SIZES[1])}",
            notes=f"client in its own process, fake in another; pages of 1,000 "
            f"({time.perf_counter() - started:.0f} s in all)",
        )
    ]
