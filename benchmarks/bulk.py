"""Bulk throughput: adding 2,000 recipients on the email (allstech) fake with 20 ms of
injected latency on every request.

The platform takes one POST per recipient (API-SPEC 2.3). segmentkit with default settings
(``concurrency=8``) is compared with a sequential ``requests`` loop sending the same
multipart POSTs, and with the ideal ``N x latency / concurrency``. Each run adds the same
2,000 recipients to a fresh segment; every recipient must end up present exactly once.
"""

from __future__ import annotations

import time

import requests

from segmentkit import connect

from ._harness import Row, Spread, alternate, check, ratio, registry, serve

NAME = "bulk"
TITLE = "bulk add of 2,000 recipients (allstech, 20 ms latency): segmentkit vs sequential"

N = 2_000
LATENCY = 0.02
REPEATS = 2


def _people() -> list[dict[str, str]]:
    return [
        {"email": f"person{i:05d}@example.com", "first_name": f"First{i}", "last_name": "Last"}
        for i in range(N)
    ]


def run() -> list[Row]:
    people = _people()
    expected = sorted(p["email"] for p in people)
    reg = registry("allstech")
    with serve("allstech") as srv:
        platform = srv.platform
        client = connect(srv.dsn(), registry=reg)  # default options
        concurrency = client.adapter.transport.options.concurrency
        srv.faults.add("latency", 1.0, seconds=LATENCY)
        headers = dict(client.adapter.transport.session.headers)
        headers.update(client.adapter.auth_headers())
        store = srv.base_url + "segment/email/store"
        session = requests.Session()
        requests_per_run: list[int] = []

        def verify(sid: str) -> None:
            got = sorted(platform.member_identities(sid))
            check(got == expected, f"segment {sid}: {len(got)} members, {len(set(got))} distinct")

        def segmentkit_run() -> float:
            sid = str(platform.add_segment(f"bulk sk {time.monotonic()}"))
            before = len(srv.log)
            start = time.perf_counter()
            result = client.recipients.add(sid, people)
            elapsed = time.perf_counter() - start
            requests_per_run.append(len(srv.log) - before)
            check(result.ok, f"segmentkit add not ok: {result.summary()}")
            check(result.counts.get("added") == N, f"outcomes: {result.summary()}")
            verify(sid)
            return elapsed

        def sequential_run() -> float:
            sid = str(platform.add_segment(f"bulk raw {time.monotonic()}"))
            start = time.perf_counter()
            for p in people:
                form = {
                    "segment_id": (None, sid),
                    "first_name": (None, p["first_name"]),
                    "last_name": (None, p["last_name"]),
                    "email": (None, p["email"]),
                }
                resp = session.post(store, files=form, headers=headers, timeout=10)
                check(resp.json().get("status") == "success", f"raw store failed: {resp.text}")
            elapsed = time.perf_counter() - start
            verify(sid)
            return elapsed

        sk, seq = alternate(segmentkit_run, sequential_run, repeats=REPEATS, warmup=0)
        client.close()
    ideal = N * LATENCY / concurrency
    vs_seq = ratio(sk, seq)
    vs_ideal = Spread(tuple(t / ideal for t in sk.values))
    return [
        Row(
            name="bulk[allstech add 2000]",
            ratio=f"{vs_seq.median:.3f}x sequential (speed-up {1 / vs_seq.median:.1f}x); "
            f"{vs_ideal.median:.2f}x ideal",
            figures=f"segmentkit {sk.fmt()}; sequential {seq.fmt()}; "
            f"ideal {ideal:.2f} s (= {N} x {LATENCY * 1000:.0f} ms / {concurrency})",
            notes=f"default settings (concurrency={concurrency}); "
            f"{requests_per_run[-1]} requests per segmentkit run (1 read + {N} POSTs ideal)",
        )
    ]
