"""The shared adapter contract, run against the 66text fake in every profile.

Profiles: the newer documented build, strict v2.0.1 (segment updates always fail with an
HTML 500 and change nothing, API-SPEC 1.6), and v2.0.1 with an update that is saved and then
answers HTML 500 (exercises the adapter's read-back reconcile).
"""

from __future__ import annotations

from typing import Any

import pytest

from segmentkit import Client, OutcomeStatus, ServerError
from segmentkit.testing.app import FakePlatform
from segmentkit.testing.contract import ProviderContract
from segmentkit.testing.server import FakeServer

STRICT_V201 = {"profile": "v2.0.1"}


class TestNotificatorContract(ProviderContract):
    provider = "notificator"
    fake_options = [
        {"profile": "documented"},
        STRICT_V201,
        {"profile": "v2.0.1", "segment_update": "applied_html500"},
        {"profile": "documented", "create_answer": "id", "seed_type": "bulk"},
    ]

    # Strict v2.0.1 cannot update a segment at all (API-SPEC 1.6), so membership changes and
    # renames cannot succeed there. These overrides assert the promised failure instead of
    # the round trip; every other profile runs the contract's own body.

    def test_create_update_delete_round_trip_or_unsupported_before_request(
        self, server: FakeServer, client: Client, fake_opts: dict[str, Any]
    ) -> None:
        if fake_opts != STRICT_V201:
            super().test_create_update_delete_round_trip_or_unsupported_before_request(
                server, client
            )
            return
        created = client.segments.create("contract created", recipients=self.recipients("sms"))
        with pytest.raises(ServerError, match=r"66text v2\.0\.1\) is known to fail"):
            client.segments.update(created.id, name="contract renamed")
        assert client.segments.get(created.id).name == "contract created"
        client.segments.delete(created.id)

    def test_recipients_add_list_remove_round_trip(
        self, platform: FakePlatform, client: Client, fake_opts: dict[str, Any]
    ) -> None:
        if fake_opts != STRICT_V201:
            super().test_recipients_add_list_remove_round_trip(platform, client)
            return
        first, *rest = self.recipients("sms")
        sid = platform.seed_segment("contract members", [first])
        result = client.recipients.add(sid, [*rest, first])
        assert [o.status for o in result] == [OutcomeStatus.failed] * len(rest) + [
            OutcomeStatus.unchanged
        ]
        assert all("known to fail" in (o.reason or "") for o in result.failed)
        assert platform.member_identities(sid) == [first.phone]

    def test_applied_then_lost_write_leaves_exactly_one_copy(
        self, server: FakeServer, client: Client, fake_opts: dict[str, Any]
    ) -> None:
        if fake_opts != STRICT_V201:
            super().test_applied_then_lost_write_leaves_exactly_one_copy(server, client)
            return
        first, second, *_ = self.recipients("sms")
        sid = server.platform.seed_segment("contract lost", [first])
        server.faults.add("applied_then_lost", 1.0, methods=("POST",), limit=1)
        result = client.recipients.add(sid, [second])
        assert [o.status for o in result] == [OutcomeStatus.failed]
        # The lost contact create was reconciled, not repeated: one contact for the number.
        phones = [c.phone_number for c in server.platform.contacts.values()]  # type: ignore[attr-defined]
        assert phones.count(second.phone) == 1
