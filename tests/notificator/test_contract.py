"""The shared adapter contract, run against the 66text fake in every profile, one class per
topic.

Profiles: the newer documented build, strict v2.0.1 (segment updates always fail with an
HTML 500 and change nothing, API-SPEC 1.6), and v2.0.1 with an update that is saved and then
answers HTML 500 (exercises the adapter's read-back reconcile).
"""

from __future__ import annotations

from typing import Any

import pytest

from segmentkit import ServerError
from segmentkit.testing import contract
from segmentkit.testing.app import FakePlatform

STRICT_V201 = {"profile": "v2.0.1"}


def _contacts_with_phone(platform: FakePlatform, segment_id: str, phone: str) -> int:
    """Contacts the account holds for ``phone``: on strict v2.0.1 the member cannot join the
    segment, but the contact create the lost write hit must not be repeated (API-SPEC 1.6)."""
    contacts = platform.contacts.values()  # type: ignore[attr-defined]
    return [c.phone_number for c in contacts].count(phone)


#: Strict v2.0.1 cannot update a segment at all (API-SPEC 1.6): renames fail with the
#: adapter's explanation and change nothing; membership changes are failed outcomes; the
#: "applied then lost" fault hits the contact create (POST), which must not be repeated.
STRICT_EXPECTATIONS = contract.Expectations(
    update_fails_with=ServerError,
    update_fails_match=r"66text v2\.0\.1\) is known to fail",
    member_writes_fail_with="known to fail",
    lost_write_methods=("POST",),
    copies=_contacts_with_phone,
)


class NotificatorFixtures(contract.ProviderFixtures):
    provider = "notificator"
    fake_options = [
        {"profile": "documented"},
        STRICT_V201,
        {"profile": "v2.0.1", "segment_update": "applied_html500"},
        {"profile": "documented", "create_answer": "id", "seed_type": "bulk"},
    ]

    @pytest.fixture
    def expectations(self, fake_opts: dict[str, Any]) -> contract.Expectations:
        return STRICT_EXPECTATIONS if fake_opts == STRICT_V201 else contract.Expectations()


class TestSegmentRead(NotificatorFixtures, contract.SegmentReadContract): ...


class TestSegmentWrite(NotificatorFixtures, contract.SegmentWriteContract): ...


class TestMembership(NotificatorFixtures, contract.MembershipContract): ...


class TestFaults(NotificatorFixtures, contract.FaultContract): ...


class TestSecrets(NotificatorFixtures, contract.SecretContract): ...


class TestCapabilities(NotificatorFixtures, contract.CapabilityContract): ...


def test_every_contract_topic_runs_for_notificator() -> None:
    """The per-topic split must not drop a topic of :class:`ProviderContract`."""
    topics = set(contract.ProviderContract.__bases__)
    here = [v for k, v in globals().items() if k.startswith("Test") and isinstance(v, type)]
    covered = {base for cls in here for base in cls.__mro__}
    assert topics <= covered
    assert all(issubclass(cls, NotificatorFixtures) for cls in here)
