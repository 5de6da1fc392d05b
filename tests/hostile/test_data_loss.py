"""Issue 12 §1 (data loss), driven only through the public API against small independent
loopback servers written from API-SPEC.md (tests/hostile/_membership_servers.py), plus the
two-clients concurrent-writers run against the 66text socket fake.

Invariants: a sync removes a member only when the desired input provably does not name it
(else the removal is *held* and reported); a string/bytes/mapping instead of a collection is a
library error before any request; odd items are one rejected outcome each; concurrent clients
of one account lose no member reported ``added``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import segmentkit
import segmentkit.sync  # used as segmentkit.sync below; nothing else need have imported it
from segmentkit import InvalidRecipientError, OutcomeStatus, SegmentkitError

from ._membership_servers import Allstech, SixtySix

pytestmark = pytest.mark.timeout(120)
S = OutcomeStatus


@pytest.fixture
def allstech() -> Iterator[tuple[Allstech, segmentkit.Client]]:
    srv = Allstech()
    srv.seed(7, ["ada@example.com", "bob@example.com", "cy@example.com"])
    with srv.serve() as url:
        client = segmentkit.connect(
            "allstech",
            public_key=Allstech.PUBLIC,
            secret_key=Allstech.SECRET,
            base_url=url,
            backoff_base=0,
        )
        with client:
            yield srv, client


@pytest.fixture
def sms() -> Iterator[tuple[SixtySix, segmentkit.Client]]:
    srv = SixtySix()
    srv.seed_bulk(5, ["+393331234567", "+393339999999", "+447911123456"])
    with srv.serve() as url:
        client = segmentkit.connect(
            "notificator", api_key=SixtySix.KEY, base_url=url, backoff_base=0
        )
        with client:
            yield srv, client


# ------------------------------------------------------------------ sync removes only what it may


def test_email_only_rows_for_existing_members_keep_them(allstech: Any) -> None:
    """allstech requires names to *store* a recipient (API-SPEC 2.3), not to keep one: rows
    naming existing members by e-mail alone are unchanged, never removed."""
    srv, client = allstech
    desired = ["ada@example.com", "BOB@example.com", {"email": "new@example.com"}]
    result = client.recipients.sync("7", desired, remove_extra=True)
    assert srv.emails(7) == ["ada@example.com", "bob@example.com"]
    counts = result.counts()
    assert counts["removed"] == 1, "cy is provably not named"
    assert counts["unchanged"] == 2
    assert counts["rejected"] == 1, "the new row lacks the names allstech requires"
    assert ("DELETE", "/api/segment/email/delete") in srv.writes()


def test_a_rejected_row_that_names_no_identity_holds_every_removal(allstech: Any) -> None:
    srv, client = allstech
    result = client.recipients.sync("7", ["ada@example.com", "not-an-email", None, 5])
    assert srv.writes() == [], "nothing removed: the input may still name bob and cy"
    assert len(result.held) == 2
    assert "held 2" in result.summary()
    assert all("rejected" in h.reason for h in result.held)


def test_dry_run_plan_states_what_is_held_and_what_it_costs(allstech: Any) -> None:
    srv, client = allstech
    plan = client.recipients.sync("7", ["ada@example.com", "garbage"], dry_run=True)
    assert isinstance(plan, segmentkit.SyncPlan)
    assert plan.to_remove == []
    assert {h.recipient.email for h in plan.held} == {"bob@example.com", "cy@example.com"}
    assert "held 2" in plan.summary()
    assert plan.requests_estimate == 0
    assert srv.writes() == []


def test_a_national_phone_without_region_protects_its_member(sms: Any) -> None:
    """A row "3331234567" is rejected without default_region, but its digits are the
    national number of +393331234567: that member is held, the unnamed one removed."""
    srv, client = sms
    result = client.recipients.sync("5", ["3331234567", "+447911123456"], remove_extra=True)
    assert sorted(srv.phones(5)) == ["+393331234567", "+447911123456"]
    assert [h.recipient.phone for h in result.held] == ["+393331234567"]
    assert result.counts()["removed"] == 1
    assert result.counts()["rejected"] == 1


def test_a_raw_id_row_protects_the_member_with_that_id(allstech: Any) -> None:
    srv, client = allstech
    bob_id = next(r.id for r in client.recipients.list("7") if r.email == "bob@example.com")
    result = client.recipients.sync("7", ["ada@example.com", {"id": bob_id}])
    assert srv.emails(7) == ["ada@example.com", "bob@example.com"]
    assert [h.recipient.email for h in result.held] == ["bob@example.com"]


# ------------------------------------------------------------------ input shapes


@pytest.mark.parametrize(
    "bad", ["+393331234567", b"ada@example.com", {"email": "ada@example.com"}, 5, None, 3.5]
)
def test_a_lone_value_is_refused_before_any_request(allstech: Any, bad: Any) -> None:
    srv, client = allstech
    srv.log.clear()
    for call in (
        lambda: client.recipients.sync("7", bad),
        lambda: client.recipients.add("7", bad),
        lambda: client.recipients.remove("7", bad),
    ):
        with pytest.raises(InvalidRecipientError) as info:
            call()
        assert isinstance(info.value, SegmentkitError)
    assert srv.log == []


def test_odd_items_are_rejected_one_by_one_and_the_rest_proceed(allstech: Any) -> None:
    srv, client = allstech
    result = client.recipients.remove("7", [None, 3.5, "²", {"id": "²"}, "ada@example.com"])
    assert [o.status for o in result] == [S.rejected] * 4 + [S.removed]
    assert all(o.reason for o in result.rejected)
    assert srv.emails(7) == ["bob@example.com", "cy@example.com"]


def test_a_unicode_digit_id_on_sms_is_one_rejected_outcome(sms: Any) -> None:
    srv, client = sms
    result = client.recipients.add("5", [{"id": "²"}, "+393330000001"])
    assert [o.status for o in result] == [S.rejected, S.added]
    assert "+393330000001" in srv.phones(5)


# ------------------------------------------------------------------ concurrent writers

CLIENTS, PER_CLIENT, CHUNK = 2, 160, 8


def _concurrent_run() -> tuple[int, int, int]:
    """Two clients of one account add 160 phones each, in chunks of 8, at once, into one bulk
    segment (66text replaces the list whole, API-SPEC 1.6). Returns (reported added, stored,
    lost)."""
    from segmentkit.testing.server import FakeServer
    from segmentkit_notificator.fake import NotificatorPlatform

    platform = NotificatorPlatform(rate_limit=100_000)
    sid = platform.add_segment("c", "bulk", phone_numbers=[])
    added: list[str] = []
    errors: list[BaseException] = []
    with FakeServer(platform, "socket") as srv:
        srv.faults.add("latency", 1.0, methods=("POST",), seconds=0.002)

        def work(k: int) -> None:
            # The second client spells the same host differently (localhost): one account
            # still, so one lock (0.1.0 keyed it by base-URL string and lost 64-96 of 320).
            url = srv.base_url.replace("127.0.0.1", "localhost") if k else srv.base_url
            client = srv.client(base_url=url)
            phones = [f"+39334{k:02d}{i:05d}" for i in range(PER_CLIENT)]
            try:
                for start in range(0, PER_CLIENT, CHUNK):
                    result = client.recipients.add(sid, phones[start : start + CHUNK])
                    added.extend(
                        o.recipient.phone for o in result if o.status is S.added and o.recipient
                    )
            except BaseException as exc:  # pragma: no cover - reported by the assert
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=100)
    assert not errors, errors
    stored = set(platform.member_identities(sid))
    lost = len(set(added) - stored)
    return len(added), len(stored), lost


def test_two_clients_of_one_account_lose_no_member() -> None:
    reported, stored, lost = _concurrent_run()
    print(f"concurrent writers: reported added {reported}, stored {stored}, lost {lost}")
    assert reported == CLIENTS * PER_CLIENT
    assert lost == 0
    assert stored == CLIENTS * PER_CLIENT


# ------------------------------------------------------------------ Ctrl-C during a bulk write


def test_ctrl_c_cancels_queued_writes_and_reports_what_was_done() -> None:
    """A KeyboardInterrupt (delivered to the main thread, as Ctrl-C is) while 300 stores are
    queued: the queue is cancelled instead of drained, the call raises
    ``segmentkit.membership.Interrupted`` carrying one outcome per item, and the member count
    stops rising (0.1.0 kept writing: 238 → 319)."""
    import _thread

    from segmentkit.membership import Interrupted

    srv = Allstech(store_delay=0.01)
    srv.seed(7, [])
    fired = threading.Event()

    def on_store(count: int) -> None:
        if count == 20 and not fired.is_set():
            fired.set()
            _thread.interrupt_main()

    srv.on_store = on_store
    people = [
        {"email": f"p{i}@example.com", "first_name": "P", "last_name": str(i)} for i in range(300)
    ]
    with srv.serve() as url:
        client = segmentkit.connect(
            "allstech",
            public_key=Allstech.PUBLIC,
            secret_key=Allstech.SECRET,
            base_url=url,
            concurrency=4,
        )
        with client, pytest.raises(Interrupted) as info:
            client.recipients.add("7", people)
        at_interrupt = srv.stores
        threading.Event().wait(0.3)  # anything still queued would land now
        after = srv.stores
    result = info.value.result
    assert isinstance(info.value, KeyboardInterrupt)
    assert len(result) == 300, "one outcome per item"
    added = {o.recipient.email for o in result if o.status is S.added and o.recipient}
    not_started = [o for o in result if "not started" in (o.reason or "")]
    assert added <= set(srv.emails(7)), "every member reported added is stored"
    assert len(not_started) >= 300 - after - 4
    assert after - at_interrupt <= 4, "at most the writes already on the wire finish"
    assert after < 100, "the queue was cancelled, not drained"
    print(
        f"ctrl-c: stored {after} of 300, reported added {len(added)}, not started "
        f"{len(not_started)}"
    )
