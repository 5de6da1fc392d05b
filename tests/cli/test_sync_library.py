"""The library's sync and copy (segmentkit/sync.py), against fakes on loopback."""

from __future__ import annotations

import pytest

import segmentkit
import segmentkit.sync  # used as segmentkit.sync below; nothing else need have imported it
from segmentkit import OutcomeStatus, Recipient, UnsupportedOperationError

PEOPLE = [
    Recipient(email="a@example.com", first_name="Ann", last_name="A"),
    Recipient(email="b@example.com", first_name="Bob", last_name="B"),
]


def test_sync_plan_lists_adds_removes_unchanged_and_rejected(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    desired = ["b@example.com", "c@example.com", "not-an-email", "+393331234567"]
    result = client.recipients.sync(sid, desired, dry_run=True)
    plan = result.plan
    assert [r.email for r in plan.to_add] == ["c@example.com"]
    assert [r.email for r in plan.unchanged] == ["b@example.com"]
    assert sorted(o.index for o in plan.rejected) == [2, 3]
    assert all(o.reason for o in plan.rejected)
    # "not-an-email" names no valid identity, so the input may still mean a@: its removal is
    # held, not planned (issue 12 §1). Without that row a@ is removed.
    assert plan.to_remove == []
    assert [h.recipient.email for h in plan.held] == ["a@example.com"]
    clean = client.recipients.sync(sid, desired[:2] + desired[3:], dry_run=True)
    assert [r.email for r in clean.to_remove] == ["a@example.com"]


def test_sync_applies_plan_and_members_match(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    result = client.recipients.sync(sid, ["b@example.com", "c@example.com"])
    assert sorted(memory.platform.member_identities(sid)) == ["b@example.com", "c@example.com"]
    assert result.counts()["added"] == 1
    assert result.counts()["removed"] == 1
    assert result.ok


def test_sync_second_run_sends_zero_writes(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    client.recipients.sync(sid, ["b@example.com", "c@example.com"])
    memory.log.clear()
    again = client.recipients.sync(sid, ["b@example.com", "c@example.com"])
    assert memory.log.writes() == []
    assert again.plan.changes == 0
    assert again.summary() == "unchanged 2"


def test_sync_dry_run_sends_no_write(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    memory.log.clear()
    result = client.recipients.sync(sid, ["z@example.com"], dry_run=True)
    assert memory.log.writes() == []
    assert result.dry_run
    assert result.added is None
    assert sorted(memory.platform.member_identities(sid)) == ["a@example.com", "b@example.com"]


def test_sync_keep_extra_removes_nothing(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    result = client.recipients.sync(sid, ["c@example.com"], remove_extra=False)
    assert result.plan.to_remove == []
    assert len(memory.platform.member_identities(sid)) == 3


def test_sync_dynamic_segment_raises_unsupported(memory):
    sid = memory.platform.add_segment(
        "rules", rules=[{"field": "country", "op": "equals", "values": ["IT"]}]
    )
    client = memory.client()
    memory.log.clear()
    with pytest.raises(UnsupportedOperationError):
        client.recipients.sync(str(sid), ["a@example.com"])
    assert memory.log.writes() == []


def test_sync_progress_reports_phases_and_totals(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    calls: list[tuple[str, int, int]] = []
    client.recipients.sync(
        sid,
        ["b@example.com", "c@example.com", "d@example.com"],
        progress=lambda *a: calls.append(a),
    )
    phases = [c[0] for c in calls]
    assert phases[0] == "reading"
    assert ("adding", 2, 2) in calls
    assert ("removing", 1, 1) in calls
    assert all(0 <= done <= total for _, done, total in calls if total)


def test_sync_duplicate_inputs_added_once(memory):
    sid = memory.platform.seed_segment("s", [])
    client = memory.client()
    client.recipients.sync(sid, ["x@example.com", "X@example.com", "x@example.com"])
    assert memory.platform.member_identities(sid) == ["x@example.com"]


def test_copy_segment_into_target_rejects_members_without_identity(registry):
    from segmentkit.testing import fake

    with (
        fake("memory", "socket", registry=registry, seed=1) as src_srv,
        fake("memory", "socket", registry=registry, seed=2) as dst_srv,
    ):
        src_id = src_srv.platform.seed_segment("src", PEOPLE)
        dst_id = dst_srv.platform.seed_segment("dst", [])
        src, dst = src_srv.client(), dst_srv.client()
        result = segmentkit.copy_segment(src, src_id, dst, target_segment_id=dst_id)
        assert sorted(dst_srv.platform.member_identities(dst_id)) == [
            "a@example.com",
            "b@example.com",
        ]
        assert result.counts()["added"] == 2
        assert not result.materialized


def test_copy_segment_creates_target_named_after_source(registry):
    from segmentkit.testing import fake

    with (
        fake("memory", "socket", registry=registry, seed=1) as src_srv,
        fake("memory", "socket", registry=registry, seed=2) as dst_srv,
    ):
        src_id = src_srv.platform.seed_segment("VIP", PEOPLE)
        result = segmentkit.copy_segment(src_srv.client(), src_id, dst_srv.client())
        assert result.created
        assert dst_srv.platform.segments[int(result.segment_id)].name == "VIP"
        assert len(dst_srv.platform.member_identities(result.segment_id)) == 2


def test_copy_segment_dynamic_source_is_materialized_and_says_so(registry):
    from segmentkit.testing import fake

    with (
        fake("memory", "socket", registry=registry, seed=1) as src_srv,
        fake("memory", "socket", registry=registry, seed=2) as dst_srv,
    ):
        sid = src_srv.platform.add_segment(
            "rules",
            rules=[{"field": "country", "op": "equals", "values": ["IT"]}],
            members=[{"email": "it@example.com"}],
        )
        dst_id = dst_srv.platform.seed_segment("dst", [])
        result = segmentkit.copy_segment(
            src_srv.client(), str(sid), dst_srv.client(), target_segment_id=dst_id
        )
        assert result.materialized
        assert any("dynamic" in n for n in result.notes)
        assert dst_srv.platform.member_identities(dst_id) == ["it@example.com"]


def test_copy_segment_member_without_destination_identity_is_rejected(registry, memory):
    """An SMS-only member copied to an email platform is rejected with a reason, not dropped."""
    sid = memory.platform.seed_segment("src", [])
    memory.platform.segments[int(sid)].members["sms-only"] = {"id": 99, "phone": "+393331234567"}
    with fake_pair(registry) as dst_srv:
        dst_id = dst_srv.platform.seed_segment("dst", [])
        result = segmentkit.copy_segment(
            memory.client(), sid, dst_srv.client(), target_segment_id=dst_id
        )
    rejected = result.plan.rejected
    assert len(rejected) == 1
    assert rejected[0].status is OutcomeStatus.rejected
    assert "email" in (rejected[0].reason or "")
    assert not result.ok


def fake_pair(registry):
    from segmentkit.testing import fake

    return fake("memory", "socket", registry=registry, seed=9)


def test_copy_creates_no_empty_segment_when_nothing_can_be_copied(registry, memory):
    sid = memory.platform.seed_segment("src", [])
    memory.platform.segments[int(sid)].members["sms-only"] = {"id": 99, "phone": "+393331234567"}
    with fake_pair(registry) as dst_srv:
        before = set(dst_srv.platform.segment_ids())
        result = segmentkit.copy_segment(memory.client(), sid, dst_srv.client())
        assert set(dst_srv.platform.segment_ids()) == before, "no empty segment created"
    assert not result.created
    assert result.segment_id == ""
    assert any("no segment created" in n for n in result.notes)
    assert len(result.plan.rejected) == 1


def test_copy_remove_extra_keeps_target_members_a_rejected_source_member_names(registry, memory):
    """The SMS-only source member lacks the target's identity (email) but its phone is a
    target member's phone: that target member is held, not removed (issue 12 §1)."""
    sid = memory.platform.seed_segment("src", [])
    memory.platform.segments[int(sid)].members["sms-only"] = {"id": 99, "phone": "+393331234567"}
    with fake_pair(registry) as dst_srv:
        dst_id = dst_srv.platform.seed_segment("dst", [])
        dst_srv.platform.segments[int(dst_id)].members["keep@example.com"] = {
            "id": 5,
            "email": "keep@example.com",
            "phone": "+393331234567",
        }
        dst_srv.platform.segments[int(dst_id)].members["gone@example.com"] = {
            "id": 6,
            "email": "gone@example.com",
        }
        result = segmentkit.copy_segment(
            memory.client(), sid, dst_srv.client(), target_segment_id=dst_id, remove_extra=True
        )
        assert dst_srv.platform.member_identities(dst_id) == ["keep@example.com"]
    assert [h.recipient.email for h in result.held] == ["keep@example.com"]
    assert "held 1" in result.summary()
    assert result.counts()["removed"] == 1


def test_sync_dry_run_returns_the_plan_with_its_cost(memory):
    sid = memory.platform.seed_segment("s", PEOPLE)
    client = memory.client()
    plan = client.recipients.sync(sid, ["z@example.com"], dry_run=True)
    assert isinstance(plan, segmentkit.sync.SyncPlan)
    assert plan.requests_estimate == 2, "one add batch and one remove batch"
    applied = client.recipients.apply(sid, plan)
    assert isinstance(applied, segmentkit.sync.SyncResult)
    assert memory.platform.member_identities(sid) == ["z@example.com"]
