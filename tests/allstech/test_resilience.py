"""2,000 recipients added under 20% injected faults end stored exactly once each
(API-SPEC 2.3: one POST per recipient, duplicates allowed by the platform, Unknowns 10)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from segmentkit import OutcomeStatus, Recipient
from segmentkit.testing import fake

N = 2_000
# Four kinds at 5.5% each: about 20% of the POSTs fail, half of them after being applied.
FAULTS = ("applied_then_lost", "reset", "503", "malformed_json")


@pytest.mark.slow
@pytest.mark.timeout(180)  # a hang guard: ~30 s alone, much more beside other tests (pytest -n)
@pytest.mark.parametrize("mode", ["responses", "socket"])
def test_add_2000_under_faults_stores_each_email_once(mode: str) -> None:
    """API-SPEC 2.3 + Unknowns 10: uncertain writes are reconciled by re-reading the segment
    (once per round), so nothing is stored twice; what is still absent after max_retries is
    ``failed`` and a re-run completes it."""
    people = [
        Recipient(email=f"user{i:04d}@example.com", first_name="User", last_name=str(i))
        for i in range(N)
    ]
    with fake("allstech", mode, seed=7) as srv:  # type: ignore[arg-type]
        sid = srv.platform.seed_segment("bulk")
        rules = [
            srv.faults.add(kind, 0.055, methods=("POST",), path=r"segment/email/store")
            for kind in FAULTS
        ]
        client = srv.client(backoff_base=0.001, backoff_max=0.01, max_retries=5)
        started = time.monotonic()
        result = client.recipients.add(sid, people)
        elapsed = time.monotonic() - started
        print(f"\n{mode}: {N} recipients in {elapsed:.2f}s: {result.summary()}")
        fired = sum(r.fired for r in rules)
        assert fired > N * 0.15, "the faults really fired"
        assert len(result) == N
        assert {o.status for o in result} <= {OutcomeStatus.added, OutcomeStatus.failed}
        assert all(o.reason for o in result.failed), "failures say why"
        stored = Counter(srv.platform.member_identities(sid))
        assert max(stored.values()) == 1, "no email stored twice"
        added = {
            o.recipient.email for o in result if o.recipient and o.status is OutcomeStatus.added
        }
        assert added <= set(stored), "every 'added' is really stored"
        # Rounds re-read the segment once each, not once per uncertain item.
        assert srv.log.count("GET", r"segment/email/list") <= 1 + 6
        # Re-running the same add (faults off) completes anything that failed, no duplicates.
        srv.faults.clear()
        final = client.recipients.add(sid, people)
        assert {o.status for o in final} <= {OutcomeStatus.added, OutcomeStatus.unchanged}
        stored = Counter(srv.platform.member_identities(sid))
        assert len(stored) == N
        assert set(stored.values()) == {1}
