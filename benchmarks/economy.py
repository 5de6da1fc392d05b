"""Request economy on the SMS (notificator) fake: requests used vs the fewest possible.

* listing 10,000 segments: ceil(10,000 / 1,000) = 10 page requests;
* the members of a ``custom`` segment of 5,000 contacts (the account holds exactly those):
  1 segment read + ceil(5,000 / 1,000) contact pages;
* the members of a ``filter`` segment over 20,000 contacts: 1 segment read + 20 pages.

Counts come from the fake's request log. The fake's 60 requests / 60 s limiter is raised out
of the way (``rate_limit``) so only the adapter's choices are counted.
"""

from __future__ import annotations

import math
from typing import Any

from ._harness import Row, check, registry, timed
from ._providers import UNLIMITED

NAME = "economy"
TITLE = "request economy (notificator): requests used vs the minimum"


def _row(label: str, used: int, minimum: int, seconds: float, items: int, notes: str) -> Row:
    return Row(
        name=f"economy[{label}]",
        ratio=f"{used / minimum:.2f}x the minimum ({used} requests vs {minimum})",
        figures=f"{items} items in {seconds:.2f} s",
        notes=notes,
    )


def run() -> list[Row]:
    from segmentkit.testing import FakeServer

    from ._sms import ScaleNotificator

    reg = registry("notificator")
    rows = []
    platform = ScaleNotificator(**UNLIMITED["notificator"])
    with FakeServer(platform, "socket", registry=reg) as srv:
        client = srv.client()

        # 1. 10,000 segments
        n = 10_000
        for i in range(n):
            platform.add_segment(f"segment {i:05d}", "custom")
        srv.log.clear()
        seconds, items = timed(lambda: list(client.segments.list()))
        check(len(items) == n, f"listing returned {len(items)} segments, seeded {n}")
        check(len({s.id for s in items}) == n, "listing repeated or skipped segments")
        used = srv.log.count("GET", r"^segments/?$")
        check(used == len(srv.log), f"listing sent other requests too: {len(srv.log)} in all")
        rows.append(
            _row(
                "list 10000 segments",
                used,
                math.ceil(n / 1000),
                seconds,
                len(items),
                "GET segments, results_per_page=1000",
            )
        )

        # 2. custom segment of 5,000 contacts
        n = 5_000
        ids = platform.seed_contacts(n)
        sid = platform.add_segment("custom 5000", "custom", contacts_ids=ids)
        srv.log.clear()
        seconds, members = timed(lambda: list(client.recipients.list(sid)))
        check(len(members) == n, f"custom segment listed {len(members)} members, seeded {n}")
        check(
            {m.phone for m in members} == set(platform.member_identities(str(sid))),
            "custom segment members differ from the fake's",
        )
        used = len(srv.log)
        rows.append(
            _row(
                f"custom segment {n}",
                used,
                1 + math.ceil(n / 1000),
                seconds,
                len(members),
                _breakdown(srv.log),
            )
        )

        # 3. filter segment over 20,000 contacts (the 5,000 above + 15,000 more)
        more = 15_000
        platform.seed_contacts(more, lambda i: {"tier": "gold" if i % 2 else "silver"}, start=n)
        total = n + more
        fid = platform.add_segment("gold", "filter", filters=[("tier", "exact", "gold")])
        expected = platform.segments[fid].total_contacts
        srv.log.clear()
        seconds, members = timed(lambda: list(client.recipients.list(fid)))
        check(
            len(members) == expected,
            f"filter segment listed {len(members)} members, the fake counts {expected}",
        )
        used = len(srv.log)
        rows.append(
            _row(
                f"filter segment over {total}",
                used,
                1 + math.ceil(total / 1000),
                seconds,
                len(members),
                _breakdown(srv.log),
            )
        )
    return rows


def _breakdown(log: Any) -> str:
    counts: dict[str, int] = {}
    for r in log.records:
        key = f"{r.method} {r.path.split('/')[0]}{'/{id}' if '/' in r.path.strip('/') else ''}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
