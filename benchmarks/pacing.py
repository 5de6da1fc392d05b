"""Pacing: 150 reads on the SMS (notificator) fake with its fixed-window limiter scaled down
to 30 requests per 3 s, the client told ``rate_limit_window=3.0``.

Targets: no 429 at all, and sustained throughput of at least 85% of the limit. Sustained
throughput is measured on the fake's arrival times as (requests after the first window) /
(time from the first to the last request): a burst of N requests at L per window W ideally
spans (N/L - 1) windows, so this is 1.0 for perfect pacing.
"""

from __future__ import annotations

import time

from ._harness import Row, check, serve

NAME = "pacing"
TITLE = "pacing under a 30 req / 3 s fixed window (notificator): 429s and throughput"

LIMIT = 30
WINDOW = 3.0
READS = 150


def run() -> list[Row]:
    with serve("notificator", rate_limit=LIMIT, rate_window=WINDOW) as srv:
        sid = srv.platform.add_segment("paced", "custom")
        client = srv.client(rate_limit_window=WINDOW)
        start = time.perf_counter()
        for _ in range(READS):
            check(client.segments.get(sid).id == str(sid), "read returned the wrong segment")
        elapsed = time.perf_counter() - start
        records = srv.log.records
        got_429 = sum(1 for r in records if r.status == 429)
        stats = client.stats
    check(len(records) == READS + got_429, f"{len(records)} requests for {READS} reads")
    span = records[-1].at - records[0].at
    rate = LIMIT / WINDOW
    sustained = (len(records) - LIMIT) / span / rate
    burst = READS / elapsed / rate
    return [
        Row(
            name="pacing[notificator 150 reads]",
            ratio=f"{sustained:.2f} of the limit sustained (target ≥ 0.85); 429s: {got_429} "
            "(target 0)",
            figures=f"{READS} reads in {elapsed:.2f} s; first→last request {span:.2f} s; "
            f"{stats.paced_seconds:.2f} s spent pacing; whole-run rate {burst:.2f}x the limit",
            notes=f"limit {LIMIT} per {WINDOW:g} s; client 429s seen {stats.rate_limited}, "
            f"retries {stats.retries}",
        )
    ]
