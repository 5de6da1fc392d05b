"""Sync planning: ``segmentkit.sync.plan_sync(client, current, desired)`` for 100,000 desired
vs 100,000 current recipients (50% overlap), against two baselines, each in the same
alternating run: issue 14's "validate + set difference" (``email_validator.validate_email``
per desired address, as a hand-written client would check its input, then set operations) and
a bare set difference on identity strings already known valid. No requests are involved:
this is the pure diff.

``current`` is what ``recipients.list`` yields (``Recipient`` objects, built outside the
timing); ``desired`` is what an application passes (bare email strings, validated by the
plan). Peak memory is measured with ``tracemalloc`` in separate, untimed runs.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from segmentkit import Recipient, connect
from segmentkit.sync import plan_sync

from ._harness import Row, alternate, check, ratio, registry, serve

NAME = "sync_plan"
TITLE = "plan_sync of 100k desired vs 100k current (50% overlap) vs set difference"

N = 100_000
REPEATS = 2


def _peak(fn: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run() -> list[Row]:
    current = [Recipient(id=str(i), email=f"user{i:06d}@example.com") for i in range(N)]
    desired = [f"user{i:06d}@example.com" for i in range(N // 2, N + N // 2)]
    current_ids = [r.email for r in current]
    with serve("memory") as srv:
        client = connect(srv.dsn(), registry=registry("memory"))
        out: dict[str, Any] = {}

        def plan() -> Any:
            return plan_sync(client, current, desired)

        def baseline() -> Any:
            want, have = set(desired), set(current_ids)
            return want - have, have - want, want & have

        def validated() -> Any:
            from email_validator import validate_email

            want = {
                validate_email(d, check_deliverability=False).normalized.lower() for d in desired
            }
            have = set(current_ids)
            return want - have, have - want, want & have

        def sk() -> float:
            start = time.perf_counter()
            out["plan"] = plan()
            return time.perf_counter() - start

        def raw() -> float:
            start = time.perf_counter()
            out["sets"] = baseline()
            return time.perf_counter() - start

        def checked() -> float:
            start = time.perf_counter()
            out["validated"] = validated()
            return time.perf_counter() - start

        a, b = alternate(sk, raw, repeats=REPEATS, warmup=0)
        a2, v = alternate(sk, checked, repeats=REPEATS, warmup=0)
        check(out["validated"] == out["sets"], "the validated baseline differs from the sets")
        p, (to_add, to_remove, same) = out["plan"], out["sets"]
        half = N // 2
        check(len(p.to_add) == len(to_add) == half, f"to_add {len(p.to_add)} vs {len(to_add)}")
        check(len(p.to_remove) == len(to_remove) == half, f"to_remove {len(p.to_remove)}")
        check(len(p.unchanged) == len(same) == half, f"unchanged {len(p.unchanged)}")
        check(not p.rejected, f"{len(p.rejected)} rejected")
        check({r.email for r in p.to_add} == to_add, "to_add differs from the set difference")
        mem_sk, mem_raw = _peak(plan), _peak(baseline)
        client.close()
    r, rv = ratio(a, b), ratio(a2, v)
    mib = 1024 * 1024
    return [
        Row(
            name="sync_plan[100k vs 100k]",
            ratio=f"{rv.median:.2f}x validate + set difference; {r.median:.0f}x bare set "
            f"difference (time); {a.median / N * 1e6:.1f} µs per desired item; "
            f"{mem_sk / max(1, mem_raw):.1f}x (peak memory)",
            figures=f"plan_sync {a.fmt()} / {a2.fmt()}; validate + sets {v.fmt()} "
            f"({v.median / N * 1e6:.1f} µs per item); bare sets {b.fmt(1e3, 'ms')}; "
            f"peak {mem_sk / mib:.1f} MiB vs sets {mem_raw / mib:.1f} MiB",
            notes="desired as email strings (validated by the plan), current as Recipient "
            "objects; memory client, no requests",
        )
    ]
