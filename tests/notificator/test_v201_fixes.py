"""Adapter behaviour for what the real 66text v2.0.1 server was seen doing (API-SPEC 1.11c;
reports/fidelity.md items 2, 3, 4, 6), each against the fake's v2.0.1 profile."""

from __future__ import annotations

from typing import Any

import pytest

from segmentkit import OutcomeStatus, Recipient
from segmentkit_notificator.fake import _api

from .conftest import phone


def test_empty_static_create_is_custom_not_bulk(start: Any) -> None:
    """API-SPEC 1.11c: a bulk create without numbers is an HTML 500 on v2.0.1; an empty
    static segment is created as ``custom`` instead, and lists no members."""
    srv = start(profile="v2.0.1")
    client = srv.client()
    seg = client.segments.create("empty", recipients=[])
    assert seg.provider_type == "custom"
    assert seg.recipient_count == 0
    assert list(client.recipients.list(seg.id)) == []
    posts = srv.log.filter("POST", r"^segments$")
    assert len(posts) == 1
    assert posts[0].form["type"] == ["custom"]


def test_bulk_recipient_count_is_its_numbers_on_v201(start: Any) -> None:
    """API-SPEC 1.11c: v2.0.1 reports total_contacts 0 for bulk segments made through the
    API (it links no contact ids); the count is the number of distinct phone numbers."""
    srv = start(profile="v2.0.1")
    client = srv.client()
    srv.platform.add_contact(phone(1))
    seg = client.segments.create("b", recipients=[phone(1), phone(2), phone(2), phone(3)])
    assert seg.recipient_count == 3
    assert client.segments.get(seg.id).recipient_count == 3
    listed = next(s for s in client.segments.list() if s.id == seg.id)
    assert listed.recipient_count == 3


def test_bare_bulk_numbers_come_back_as_phones(start: Any) -> None:
    """API-SPEC 1.6: numbers without a contact are members too (bare phones)."""
    srv = start(profile="v2.0.1")
    sid = srv.platform.add_segment("b", "bulk", phone_numbers=[phone(4), phone(5)])
    got = list(srv.client().recipients.list(str(sid)))
    assert [(r.phone, r.id) for r in got] == [(phone(4), None), (phone(5), None)]


def test_invalid_number_answer_names_the_number_as_invalid(
    start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API-SPEC 1.11c: a number the server's libphonenumber rejects is answered 201 with
    ``id: 0, phone_number: null``; the reason says the number is invalid, not that it
    belongs to another account."""
    refused = phone(7)
    real = _api.get_phone_number
    monkeypatch.setattr(_api, "get_phone_number", lambda n: None if n == refused else real(n))
    srv = start(profile="v2.0.1", segment_update="ok")
    sid = srv.platform.add_segment("c", "custom")
    result = srv.client().recipients.add(str(sid), [refused, phone(8)])
    assert [o.status for o in result] == [OutcomeStatus.failed, OutcomeStatus.added]
    reason = result.items[0].reason or ""
    assert "invalid" in reason
    assert "another account" not in reason


def test_existing_number_of_this_account_is_looked_up(start: Any) -> None:
    """API-SPEC 1.7: id 0 with the number = it exists; when it is this account's contact
    (created meanwhile), that contact is used."""
    srv = start(profile="v2.0.1", segment_update="ok")
    p = srv.platform
    sid = p.add_segment("c", "custom")
    client = srv.client()
    adapter: Any = client.adapter
    real_find = adapter._directory.find
    calls: list[int] = []

    def find(phones: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            # "Another writer" creates the contact between our search and our create.
            p.add_contact(phone(9), "Other writer")
            return {}
        return real_find(phones)

    adapter._directory.find = find  # the contacts' one lookup
    result = client.recipients.add(str(sid), [phone(9)])
    assert [o.status for o in result] == [OutcomeStatus.added]
    assert len(calls) == 2  # the first lookup raced the other writer, the second found it
    made = [c for c in p.contacts.values() if c.phone_number == phone(9)]
    assert len(made) == 1
    assert p.segments[sid].settings["contacts_ids"] == [made[0].id]


def test_failed_custom_update_says_the_created_contact_was_kept(start: Any) -> None:
    """API-SPEC 1.7/1.11c: adding a new number to a custom segment creates its contact, then
    the segment update fails (HTML 500 on v2.0.1): the contact stays, and the outcome's
    reason says so with its id."""
    srv = start(profile="v2.0.1")
    p = srv.platform
    sid = p.add_segment("c", "custom")
    result = srv.client().recipients.add(str(sid), [Recipient(phone=phone(11), name="New")])
    assert result.items[0].status is OutcomeStatus.failed
    made = next(c for c in p.contacts.values() if c.phone_number == phone(11))
    reason = result.items[0].reason or ""
    assert f"contact {made.id}" in reason
    assert "created" in reason
    assert "kept" in reason
    assert "66text v2.0.1" in reason
    assert p.segments[sid].settings.get("contacts_ids", []) == []


def test_failed_bulk_update_names_contacts_made_for_profiles(start: Any) -> None:
    """API-SPEC 1.6/1.11c: a bulk add with names creates those contacts first (bulk makes
    bare ones); when the update then fails, the reason names them as created and kept."""
    srv = start(profile="v2.0.1")
    p = srv.platform
    sid = p.add_segment("b", "bulk", phone_numbers=[phone(1)])
    result = srv.client().recipients.add(str(sid), [Recipient(phone=phone(12), name="Named")])
    made = next(c for c in p.contacts.values() if c.phone_number == phone(12))
    assert result.items[0].status is OutcomeStatus.failed
    assert f"contact {made.id} was created" in (result.items[0].reason or "")


def test_successful_add_does_not_mention_created_contacts(start: Any) -> None:
    """API-SPEC 1.7: when the update works, nothing is said about created contacts."""
    srv = start(profile="v2.0.1", segment_update="ok")
    sid = srv.platform.add_segment("c", "custom")
    client = srv.client()
    result = client.recipients.add(str(sid), [phone(13)])
    assert result.items[0].status is OutcomeStatus.added
    assert result.items[0].reason is None
    assert client.adapter._created == {}  # type: ignore[attr-defined]
