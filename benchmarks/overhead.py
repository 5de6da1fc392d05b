"""Per-call overhead: ``client.segments.get(id)`` and ``client.segments.list()`` (one full
page) against the same requests sent with a bare ``requests.Session`` and ``.json()``.

The baseline replays exactly the requests the segmentkit call sent (read back from the fake's
request log: same path, query and headers), so the ratio is what segmentkit adds on top of
HTTP and JSON. The segmentkit path is then profiled (cProfile, client thread only).
"""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

import requests

from ._harness import (
    NotRunError,
    Row,
    adapter_available,
    alternate,
    calibrate,
    check,
    ratio,
    serve,
)
from ._providers import PAGE, UNLIMITED, seed_segments

NAME = "overhead"
TITLE = "per-call overhead: segmentkit vs raw requests + .json()"

REPEATS = 7  # samples of each path; calls per sample are calibrated to ~0.25 s


def _replayer(srv: Any, client: Any, call: Any) -> Any:
    """Run ``call`` once through segmentkit and return a function that sends the same
    requests with a plain session."""
    srv.log.clear()
    call()
    records = srv.log.records
    check(len(records) >= 1, "the segmentkit call sent no request")
    headers = dict(client.adapter.transport.session.headers)
    headers.update(client.adapter.auth_headers())
    base = srv.base_url
    plan = [(base + r.path, [(k, v) for k, vs in r.query.items() for v in vs]) for r in records]
    session = requests.Session()

    def raw() -> Any:
        out = None
        for url, params in plan:
            resp = session.get(url, params=params, headers=headers, timeout=10)
            resp.raise_for_status()
            out = resp.json()
        return out

    return raw, len(records)


def _loop(fn: Any, n: int) -> Any:
    import time

    def run() -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n

    return run


def _profile(fn: Any, n: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(14)
    text = out.getvalue()
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text


def bench_provider(provider: str) -> list[Row]:
    page = PAGE[provider]
    with serve(provider, **UNLIMITED[provider]) as srv:
        ids = seed_segments(provider, srv.platform, page)
        client = srv.client()  # default options apart from short test backoff
        target = ids[len(ids) // 2]

        def sk_get() -> Any:
            return client.segments.get(target)

        def sk_list() -> Any:
            items = list(client.segments.list())
            check(len(items) == page, f"listing returned {len(items)} segments, seeded {page}")
            return items

        check(sk_get().id == target, "get returned the wrong segment")
        raw_get, get_requests = _replayer(srv, client, sk_get)
        raw_list, list_requests = _replayer(srv, client, sk_list)
        check(list_requests == 1, f"one page of {page} took {list_requests} requests")
        rows = []
        profiles = []
        for label, sk, raw, nreq in (
            ("get", sk_get, raw_get, get_requests),
            (f"list {page}", sk_list, raw_list, list_requests),
        ):
            n = calibrate(sk)
            a, b = alternate(_loop(sk, n), _loop(raw, n), repeats=REPEATS)
            r = ratio(a, b)
            rows.append(
                Row(
                    name=f"overhead[{provider} {label}]",
                    ratio=f"{r.median:.2f}x (segmentkit / raw), range {r.lo:.2f}-{r.hi:.2f}",
                    figures=f"segmentkit {a.fmt(1e3, 'ms')}; raw {b.fmt(1e3, 'ms')}; "
                    f"extra {(a.median - b.median) * 1e6:.0f} µs/call",
                    notes=f"{nreq} request(s) per call; {n} calls per sample",
                )
            )
            profiles.append(
                f"**{provider} {label}** — cProfile of {n} segmentkit calls, top by own time:\n\n"
                f"```\n{_profile(sk, n)}\n```"
            )
        rows[-1].details = "\n\n".join(profiles)
        return rows


def run() -> list[Row]:
    rows: list[Row] = []
    missing = []
    for provider in ("memory", "notificator", "allstech"):
        if provider != "memory" and not adapter_available(provider):
            missing.append(provider)
            continue
        rows += bench_provider(provider)
    if missing:
        raise NotRunError(f"adapters not importable: {', '.join(missing)}", rows)
    return rows
