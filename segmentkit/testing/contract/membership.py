"""Contract topic: adding, listing and removing members."""

from __future__ import annotations

import pytest

from segmentkit import Capability, Client, OutcomeStatus

from ..app import FakePlatform
from ..server import FakeServer
from .fixtures import Expectations, ProviderFixtures

__all__ = ["MembershipContract"]


class MembershipContract(ProviderFixtures):
    """add → list → remove round-trips with one outcome per item; an invalid recipient is
    rejected before any request; an "applied then lost" write leaves exactly one copy."""

    def test_recipients_add_list_remove_round_trip(
        self, platform: FakePlatform, client: Client, expectations: Expectations
    ) -> None:
        first, *rest = self.recipients(client.channel)
        ident = client.channel
        sid = platform.seed_segment("contract members", [first])
        result = client.recipients.add(sid, [*rest, first])
        if expectations.member_writes_fail_with is not None:
            assert [o.status for o in result] == [OutcomeStatus.failed] * len(rest) + [
                OutcomeStatus.unchanged
            ]
            reason = expectations.member_writes_fail_with
            assert all(reason in (o.reason or "") for o in result.failed)
            assert platform.member_identities(sid) == [first.identity(ident)], "unchanged"
            return
        assert [o.status for o in result] == [OutcomeStatus.added] * len(rest) + [
            OutcomeStatus.unchanged
        ]
        listed = sorted(r.identity(ident) or "" for r in client.recipients.list(sid))
        assert listed == sorted(r.identity(ident) or "" for r in [first, *rest])
        removed = client.recipients.remove(sid, [rest[0], rest[0].identity(ident)])
        assert [o.status for o in removed] == [OutcomeStatus.removed, OutcomeStatus.unchanged]
        left = sorted(platform.member_identities(sid))
        assert left == sorted(r.identity(ident) or "" for r in [first, *rest[1:]])

    def test_invalid_recipient_rejected_before_any_request(
        self, server: FakeServer, client: Client
    ) -> None:
        if not self._has(client, Capability.add_recipients):
            pytest.skip("adapter cannot add recipients")
        bad = "not-a-phone" if client.channel == "sms" else "not-an-email"
        before = len(server.log)
        result = client.recipients.add("1", [bad])
        assert [o.status for o in result] == [OutcomeStatus.rejected]
        assert result.items[0].reason
        assert len(server.log) == before, "nothing was sent"

    def test_applied_then_lost_write_leaves_exactly_one_copy(
        self, server: FakeServer, client: Client, expectations: Expectations
    ) -> None:
        if not self._has(client, Capability.add_recipients):
            pytest.skip("adapter cannot add recipients")
        first, second, *_ = self.recipients(client.channel)
        sid = server.platform.seed_segment("contract lost", [first])
        server.faults.add(
            "applied_then_lost", 1.0, methods=expectations.lost_write_methods, limit=1
        )
        result = client.recipients.add(sid, [second])
        failing = expectations.member_writes_fail_with is not None
        wanted = OutcomeStatus.failed if failing else OutcomeStatus.added
        assert [o.status for o in result] == [wanted]
        ident = second.identity(client.channel) or ""
        assert expectations.copies(server.platform, sid, ident) == 1, "reconciled, not repeated"
