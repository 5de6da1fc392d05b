"""Provider quirks of the allstech adapter, each against API-SPEC.md Part 2, through the fake
in both transports."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

import segmentkit_allstech
from segmentkit import (
    AuthenticationError,
    Capability,
    Client,
    ConfigurationError,
    NotFoundError,
    Operator,
    OutcomeStatus,
    Recipient,
    SegmentKind,
    UnsupportedOperationError,
    ValidationError,
    connect,
    create_registry,
)
from segmentkit.testing import FakeServer, fake
from segmentkit_allstech import AllstechProvider
from segmentkit_allstech.fake import AllstechPlatform

ADA = Recipient(email="ada@example.com", first_name="Ada", last_name="Rossi")
BRUNO = Recipient(email="bruno@example.org", first_name="Bruno", last_name="Neri")


def platform(srv: FakeServer) -> AllstechPlatform:
    assert isinstance(srv.platform, AllstechPlatform)
    return srv.platform


def adapter(client: Client) -> AllstechProvider:
    assert isinstance(client.adapter, AllstechProvider)
    return client.adapter


# ------------------------------------------------------------------ registration and config


def test_package_exports_provider_only() -> None:
    """STYLE: explicit ``__all__`` matching the public names."""
    assert segmentkit_allstech.__all__ == ["AllstechProvider"]
    assert segmentkit_allstech.__doc__


def test_entry_point_registers_allstech_provider() -> None:
    """The built-in entry point ``allstech`` loads through the plugin hook."""
    registry = create_registry()
    assert registry.get("allstech") is AllstechProvider


def test_dsn_credentials_become_publickey_secretkey_headers() -> None:
    """API-SPEC 2.1: two headers, ``PublicKey`` and ``SecretKey``, in DSN order."""
    with connect("allstech://PUB1234:SEC5678@mail.allstechnology.com") as c:
        assert c.base_url == "https://mail.allstechnology.com/api/"
        assert c.adapter.auth_headers() == {"PublicKey": "PUB1234", "SecretKey": "SEC5678"}
        assert "PUB1234" not in repr(c)
        assert "SEC5678" not in repr(c.adapter.credentials)
        assert c.channel == "email"


def test_unknown_setting_raises_configuration_error() -> None:
    """Adapter settings forbid extras, so a misspelt fill-in name fails loudly."""
    with pytest.raises(ConfigurationError, match="default_first_nam"):
        connect("allstech://PUB1234:SEC5678@mail.allstechnology.com", default_first_nam="X")


def test_capabilities_exclude_create_and_update() -> None:
    """API-SPEC 2.4: the Segments docs have no create or update operation."""
    caps = AllstechProvider.capabilities()
    assert Capability.create_segment not in caps
    assert Capability.update_segment not in caps
    assert {
        Capability.list_segments,
        Capability.get_segment,
        Capability.delete_segment,
        Capability.list_recipients,
        Capability.add_recipients,
        Capability.remove_recipients,
    } <= caps


def test_create_and_update_raise_unsupported_naming_web_app(srv: FakeServer) -> None:
    """API-SPEC 2.4: segments are created in the web UI; the error says so, before sending."""
    c = srv.client()
    with pytest.raises(UnsupportedOperationError, match="web app") as info:
        c.segments.create("new", recipients=[ADA])
    assert "allstech" in str(info.value)
    assert "creating a segment" in str(info.value)
    with pytest.raises(UnsupportedOperationError, match="web app"):
        c.segments.update("1", name="renamed")
    assert len(srv.log) == 0


# ------------------------------------------------------------------ envelope and errors


def test_wrong_keys_in_http_200_raise_authentication_error(srv: FakeServer) -> None:
    """API-SPEC 2.2 / Unknowns 2-3: failure inside HTTP 200, decided on ``status``."""
    with connect(platform(srv).bad_dsn(srv.base_url)) as bad:
        with pytest.raises(AuthenticationError) as info:
            bad.segments.list().to_list()
    assert info.value.status_code is None
    assert srv.log.records[-1].status == 200


@pytest.mark.parametrize("failure_status", ["200", "4xx"])
def test_missing_segment_record_not_found_raises_not_found(
    transport_mode: str, failure_status: str
) -> None:
    """API-SPEC 2.3/2.5.3: "Record not found" (recipients) and "Record Not Found" (deletes),
    whether the failure comes as HTTP 200 or 404."""
    with fake("allstech", transport_mode, failure_status=failure_status) as srv:  # type: ignore[arg-type]
        c = srv.client()
        with pytest.raises(NotFoundError):
            c.recipients.list("999").to_list()
        with pytest.raises(NotFoundError):
            c.segments.delete("999")
        statuses = {r.status for r in srv.log.records if "segment/list" not in r.path}
        assert statuses == ({200} if failure_status == "200" else {404})


@pytest.mark.parametrize("failure_status", ["200", "4xx"])
def test_store_field_errors_raise_validation_error_with_fields(
    transport_mode: str, failure_status: str
) -> None:
    """API-SPEC 2.3: missing fields answer a field → messages dict."""
    with fake("allstech", transport_mode, failure_status=failure_status) as srv:  # type: ignore[arg-type]
        sid = platform(srv).seed_segment("s")
        c = srv.client()
        with pytest.raises(ValidationError) as info:
            c.request("POST", "segment/email/store", files={"segment_id": (None, sid)})
        assert info.value.field_errors == {
            "first_name": ["The first name field is required."],
            "last_name": ["The last name field is required."],
            "email": ["The email field is required."],
        }
        assert info.value.status_code == (None if failure_status == "200" else 422)


def test_missing_headers_raise_authentication_error(srv: FakeServer) -> None:
    """API-SPEC 2.1: missing headers answer a PublicKey/SecretKey field-error dict."""
    c = srv.client()
    c.adapter._headers_cache = {}  # send nothing that authenticates
    with pytest.raises(AuthenticationError) as info:
        c.segments.list().to_list()
    assert set(info.value.field_errors) == {"PublicKey", "SecretKey"}


def test_escape_hatch_reaches_other_endpoints_with_same_auth(srv: FakeServer) -> None:
    """API-SPEC 2.4: contacts-type, contacts/list, reserve-fields via ``client.request``."""
    c = srv.client()
    assert c.request("GET", "contacts-type")["message"]["contactTypes"][0]["id"] == 1
    assert c.request("GET", "contacts/list")["message"] == {"contacts": []}
    assert c.request("GET", "reserve-fields")["message"]["reservedFields"]
    with pytest.raises(NotFoundError):
        c.request("GET", "contacts-type/view", params={"contact_type_id": 5})
    with connect(platform(srv).bad_dsn(srv.base_url)) as bad, pytest.raises(AuthenticationError):
        bad.request("GET", "reserve-fields")


def test_secrets_masked_in_fake_request_log(srv: FakeServer) -> None:
    """API-SPEC 2.1: the custom key headers are secrets too."""
    srv.client().segments.list().to_list()
    acc = platform(srv).default
    text = srv.log.text()
    assert acc.public_key not in text
    assert acc.secret_key not in text
    assert srv.log.records[0].headers["Publickey"] == "***"


# ------------------------------------------------------------------ segments


def test_segment_list_maps_wire_fields(srv: FakeServer) -> None:
    """API-SPEC 2.3: segment_name, segment_emails_count, ISO timestamps, extras, raw, rules."""
    p = platform(srv)
    sid = p.add_segment(
        "Test4",
        select_field=["17", "14", "9"],
        select_operator=["is between", "is after", "starts like"],
        value=["25", "60", "2023-11-08T15:12", "x"],
        query_type="or",
        contact_type_id=3,
        created_at=datetime(2023, 11, 8, 9, 36, 9, 123456, tzinfo=timezone.utc),
    )
    p.add_recipient(sid, "a@example.com", "A", "B")
    seg = srv.client().segments.get(str(sid))
    assert seg.name == "Test4"
    assert seg.recipient_count == 1
    assert seg.kind is SegmentKind.static
    assert seg.created_at == datetime(2023, 11, 8, 9, 36, 9, 123456, tzinfo=timezone.utc)
    assert seg.extra == {
        "contact_type_id": 3,
        "user_id": p.default.user_id,
        "query_type": "or",
        "deleted_at": None,
    }
    assert seg.raw["segment_name"] == "Test4"
    assert seg.match == "any"
    between, after, other = seg.rules
    assert (between.field, between.operator, between.values) == (
        "17",
        Operator.between,
        ("25", "60"),
    )
    assert (after.field, after.operator, after.values) == (
        "14",
        Operator.after,
        ("2023-11-08T15:12",),
    )
    assert other.operator is Operator.other
    assert other.native_operator == "starts like"
    assert other.values == ("x",)


@pytest.mark.parametrize(
    ("native", "neutral"),
    [
        ("is", Operator.equals),
        ("is not", Operator.not_equals),
        ("contains", Operator.contains),
        ("does not contain", Operator.not_contains),
        ("is greater than", Operator.greater_than),
        ("is less than", Operator.less_than),
        ("is after", Operator.after),
        ("is before", Operator.before),
    ],
)
def test_operator_table_maps_to_neutral_operator(native: str, neutral: Operator) -> None:
    """API-SPEC Unknowns 4: the SendGrid-style operators."""
    from segmentkit_allstech.wire import WireSegment, _rules

    wire = WireSegment.model_validate(
        {
            "id": 1,
            "segment_name": "s",
            "select_field": ["3"],
            "select_operator": [native],
            "value": ["v"],
        }
    )
    (rule,) = _rules(wire)
    assert rule.operator is neutral
    assert rule.values == ("v",)
    assert rule.native_operator == native


def test_query_type_null_means_match_all(srv: FakeServer) -> None:
    """API-SPEC 2.3: query_type null in the examples; only "or"/"any" mean any."""
    sid = platform(srv).add_segment("n", ["14"], ["is after"], ["2023-11-08T15:12"])
    assert srv.client().segments.get(str(sid)).match == "all"


def test_list_applies_query_client_side_in_one_request(srv: FakeServer) -> None:
    """API-SPEC Unknowns 8: one unpaginated list; search/date/order applied client-side."""
    p = platform(srv)
    for i, name in enumerate(["Newsletter B", "Promo", "newsletter a", "Other"]):
        p.add_segment(name, created_at=datetime(2024, 1, 1 + i, tzinfo=timezone.utc))
    c = srv.client()
    srv.log.clear()
    got = [s.name for s in c.segments.list("NEWS", order_by="name")]
    assert got == ["newsletter a", "Newsletter B"]
    got = [
        s.name
        for s in c.segments.list(
            created_after=datetime(2024, 1, 2), descending=True, order_by="created_at"
        )
    ]
    assert got == ["Other", "newsletter a", "Promo"]
    assert srv.log.count("GET", r"segment/list") == 2


def test_get_missing_segment_raises_not_found_after_one_list(srv: FakeServer) -> None:
    """API-SPEC 2.3: no single-segment endpoint; get searches the list."""
    with pytest.raises(NotFoundError):
        srv.client().segments.get("12345")
    assert srv.log.count("GET", r"segment/list") == 1


def test_other_accounts_segment_is_not_found(srv: FakeServer) -> None:
    """API-SPEC Unknowns 10: ownership checked, foreign segments are "Record not found"."""
    p = platform(srv)
    other = p.add_account()
    sid = p.add_segment("theirs", account=other)
    c = srv.client()
    with pytest.raises(NotFoundError):
        c.segments.get(str(sid))
    with pytest.raises(NotFoundError):
        c.recipients.list(sid).to_list()
    assert [s.id for s in srv.client(other).segments.list()] == [str(sid)]


def test_delete_segment_success_under_errors_key_soft_deletes(srv: FakeServer) -> None:
    """API-SPEC 2.2/2.5.1: success is ``{"status":"success","errors":"Deleted Successfully"}``."""
    p = platform(srv)
    sid = p.seed_segment("gone", [ADA])
    c = srv.client()
    c.segments.delete(sid)
    assert sid not in [s.id for s in c.segments.list()]
    assert p.segments[int(sid)].deleted_at is not None
    with pytest.raises(NotFoundError):
        c.segments.delete(sid)


def test_delete_segment_retried_after_lost_answer_counts_as_done(srv: FakeServer) -> None:
    """API-SPEC 2.3: a retried delete that finds "Record Not Found" was applied."""
    sid = platform(srv).seed_segment("lost")
    srv.faults.add("applied_then_lost", 1.0, methods=("DELETE",), limit=1)
    srv.client().segments.delete(sid)
    assert srv.log.count("DELETE", r"segment/delete") == 2


# ------------------------------------------------------------------ recipients


def test_recipient_list_maps_fields_and_country(srv: FakeServer) -> None:
    """API-SPEC 2.3: contactEmails rows; id is the segment recipient id."""
    p = platform(srv)
    sid = p.add_segment("r")
    rid = p.add_recipient(
        sid,
        "David@Example.com",
        "David",
        "Malan",
        country="it",
        state="RM",
        city="Roma",
        address_line1="Via 1",
        contact_id=24,
    )
    p.add_recipient(sid, "x@example.com", "X", "Y", country="Italy")
    first, second = srv.client().recipients.list(sid)
    assert first.id == str(rid)
    assert first.email == "David@example.com"
    assert (first.first_name, first.last_name, first.country) == ("David", "Malan", "IT")
    assert first.attributes == {
        "state": "RM",
        "city": "Roma",
        "address_line1": "Via 1",
        "contact_id": "24",
    }
    assert first.raw["fullname"] == "David Malan"
    assert second.country is None
    assert second.attributes["country"] == "Italy"


def test_add_sends_one_multipart_post_per_recipient(srv: FakeServer) -> None:
    """API-SPEC 2.1/2.3: multipart form with segment_id, first_name, last_name, email."""
    sid = platform(srv).seed_segment("m")
    result = srv.client().recipients.add(sid, [ADA, BRUNO])
    assert [o.status for o in result] == [OutcomeStatus.added] * 2
    posts = srv.log.filter("POST", r"segment/email/store")
    assert len(posts) == 2
    assert all(r.headers["Content-Type"].startswith("multipart/form-data") for r in posts)
    forms = sorted(
        (
            r.form["email"][0],
            r.form["first_name"][0],
            r.form["last_name"][0],
            r.form["segment_id"][0],
        )
        for r in posts
    )
    assert forms == [
        ("ada@example.com", "Ada", "Rossi", sid),
        ("bruno@example.org", "Bruno", "Neri", sid),
    ]


def test_add_without_names_rejected_before_any_request(srv: FakeServer) -> None:
    """API-SPEC 2.3: first_name and last_name are required by the platform."""
    sid = platform(srv).seed_segment("n")
    srv.log.clear()
    result = srv.client().recipients.add(
        sid, ["solo@example.com", {"email": "a@example.com", "first_name": "A"}]
    )
    assert [o.status for o in result] == [OutcomeStatus.rejected] * 2
    assert "first name and a last name" in (result.items[0].reason or "")
    assert "last name" in (result.items[1].reason or "")
    assert len(srv.log) == 0


def test_add_two_part_name_and_settings_fill_in_names(srv: FakeServer) -> None:
    """API-SPEC 2.3: names derived from a two-part ``name`` or from adapter settings."""
    p = platform(srv)
    sid = p.seed_segment("fill")
    c = srv.client(default_first_name="Friend", default_last_name="Subscriber")
    result = c.recipients.add(
        sid, [{"email": "ann@example.com", "name": "Ann Lee"}, "solo@example.com"]
    )
    assert [o.status for o in result] == [OutcomeStatus.added] * 2
    stored = {
        r["email"]: (r["first_name"], r["last_name"])
        for r in c.request("GET", "segment/email/list", params={"segment_id": sid})["message"][
            "contactEmails"
        ]
    }
    assert stored == {
        "ann@example.com": ("Ann", "Lee"),
        "solo@example.com": ("Friend", "Subscriber"),
    }


def test_add_existing_email_is_unchanged_case_insensitively(srv: FakeServer) -> None:
    """API-SPEC Unknowns 10: the platform may store duplicates, so the client skips them."""
    p = platform(srv)
    sid = p.add_segment("dups")
    p.add_recipient(sid, "ADA@example.com", "Ada", "Rossi")
    srv.log.clear()
    result = srv.client().recipients.add(sid, [ADA])
    assert [o.status for o in result] == [OutcomeStatus.unchanged]
    assert srv.log.count("POST") == 0
    assert p.member_identities(str(sid)) == ["ada@example.com"]


def test_add_to_missing_segment_raises_not_found(srv: FakeServer) -> None:
    """API-SPEC 2.3: an unknown segment is "Record not found"."""
    with pytest.raises(NotFoundError):
        srv.client().recipients.add("4242", [ADA])


def test_add_to_empty_segment_when_platform_says_not_found(transport_mode: str) -> None:
    """API-SPEC 2.3: should "Record not found" also mean "no recipients yet", the segment
    list decides whether the segment exists."""
    with fake("allstech", transport_mode, empty_list_not_found=True) as srv:  # type: ignore[arg-type]
        sid = platform(srv).seed_segment("empty")
        c = srv.client()
        assert c.recipients.list(sid).to_list() == []
        assert [o.status for o in c.recipients.add(sid, [ADA])] == [OutcomeStatus.added]


def test_add_lost_answers_resolved_by_one_reread_per_round(srv: FakeServer) -> None:
    """API-SPEC 2.3 + STYLE "look first, then retry": applied-then-lost writes are found by a
    single re-read of the segment, not one per uncertain item, and never re-sent."""
    sid = platform(srv).seed_segment("lost")
    srv.faults.add("applied_then_lost", 1.0, methods=("POST",), limit=5)
    people = [
        Recipient(email=f"p{i}@example.com", first_name="P", last_name=str(i)) for i in range(12)
    ]
    srv.log.clear()
    result = srv.client().recipients.add(sid, people)
    assert [o.status for o in result] == [OutcomeStatus.added] * 12
    assert srv.log.count("POST") == 12, "nothing re-sent"
    assert srv.log.count("GET", r"segment/email/list") == 2, "initial read + one re-read"
    assert sorted(platform(srv).member_identities(sid)) == sorted(p.email or "" for p in people)


def test_add_unsent_writes_are_retried_once_absent(srv: FakeServer) -> None:
    """API-SPEC 2.3: a reset/503 write absent on re-read is re-sent, stored once."""
    sid = platform(srv).seed_segment("reset")
    srv.faults.add("reset", 1.0, methods=("POST",), limit=2)
    srv.faults.add("503", 1.0, methods=("POST",), limit=1)
    result = srv.client(concurrency=1).recipients.add(sid, [ADA, BRUNO])
    assert [o.status for o in result] == [OutcomeStatus.added] * 2
    assert [o.attempts for o in result] == [3, 2]
    assert sorted(platform(srv).member_identities(sid)) == ["ada@example.com", "bruno@example.org"]


def test_add_exhausted_retries_fail_then_rerun_completes(srv: FakeServer) -> None:
    """API-SPEC 2.3: items still absent after max_retries rounds are ``failed`` with the
    cause; running the same add again completes them without duplicates."""
    sid = platform(srv).seed_segment("fail", [ADA])
    rule = srv.faults.add("503", 1.0, methods=("POST",))
    c = srv.client(max_retries=2)
    srv.log.clear()
    result = c.recipients.add(sid, [ADA, BRUNO])
    assert [o.status for o in result] == [OutcomeStatus.unchanged, OutcomeStatus.failed]
    assert "ServerError" in (result.items[1].reason or "")
    assert result.items[1].attempts == 3
    assert srv.log.count("GET", r"segment/email/list") == 1 + 3
    srv.faults.rules.remove(rule)
    again = c.recipients.add(sid, [ADA, BRUNO])
    assert [o.status for o in again] == [OutcomeStatus.unchanged, OutcomeStatus.added]
    assert sorted(platform(srv).member_identities(sid)) == ["ada@example.com", "bruno@example.org"]


def test_add_platform_duplicate_answer_counts_as_unchanged(
    transport_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API-SPEC Unknowns 10 (guess): a platform rejecting duplicates says "already taken"."""
    with fake("allstech", transport_mode, reject_duplicates=True) as srv:  # type: ignore[arg-type]
        p = platform(srv)
        sid = p.seed_segment("taken", [ADA])
        c = srv.client()
        with pytest.raises(ValidationError, match="already been taken"):
            c.request(
                "POST",
                "segment/email/store",
                files={
                    "segment_id": (None, sid),
                    "first_name": (None, "A"),
                    "last_name": (None, "R"),
                    "email": (None, "ada@example.com"),
                },
            )
        # A stale membership view (another writer added Bruno meanwhile) still ends unchanged.
        real = adapter(c)._members
        monkeypatch.setattr(
            adapter(c), "_members", lambda s: (r for r in real(s) if r.email != BRUNO.email)
        )
        p.add_recipient(sid, BRUNO.email or "", "Bruno", "Neri")
        result = c.recipients.add(sid, [BRUNO])
        assert [o.status for o in result] == [OutcomeStatus.unchanged]
        assert p.member_identities(sid).count("bruno@example.org") == 1


def test_remove_by_id_and_by_email(srv: FakeServer) -> None:
    """API-SPEC 2.3: DELETE segment/email/delete?segment_recipient_id=; emails resolved
    through the recipient list."""
    p = platform(srv)
    sid = p.seed_segment("rm", [ADA, BRUNO])
    rid = next(r.id for r in srv.client().recipients.list(sid) if r.email == ADA.email)
    result = srv.client().recipients.remove(sid, [rid, "BRUNO@example.org"])
    assert [o.status for o in result] == [OutcomeStatus.removed] * 2
    assert p.member_identities(sid) == []
    assert srv.log.count("DELETE", r"segment/email/delete") == 2


def test_remove_absent_or_foreign_id_is_unchanged_without_delete(srv: FakeServer) -> None:
    """API-SPEC 2.3: deletes take only a recipient id, so an id outside this segment is
    never sent; absent members are ``unchanged``."""
    p = platform(srv)
    sid = p.seed_segment("mine", [ADA])
    other = p.add_segment("other")
    foreign = p.add_recipient(other, "z@example.com", "Z", "Z")
    srv.log.clear()
    result = srv.client().recipients.remove(sid, [foreign, "nobody@example.com"])
    assert [o.status for o in result] == [OutcomeStatus.unchanged] * 2
    assert srv.log.count("DELETE") == 0
    assert p.member_identities(str(other)) == ["z@example.com"]


def test_remove_already_gone_record_not_found_is_unchanged(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API-SPEC 2.3: "Record Not Found" on a recipient delete means it is already gone."""
    p = platform(srv)
    sid = p.seed_segment("race", [ADA])
    c = srv.client()
    stale = c.recipients.list(sid).to_list()
    monkeypatch.setattr(adapter(c), "_members", lambda s: iter(stale))
    p.recipients.clear()
    p.segments[int(sid)].emails.clear()
    result = c.recipients.remove(sid, [ADA])
    assert [o.status for o in result] == [OutcomeStatus.unchanged]
    assert srv.log.count("DELETE", r"segment/email/delete") == 1


def test_remove_retried_after_lost_answer_counts_as_removed(srv: FakeServer) -> None:
    """API-SPEC 2.3: a retried recipient delete that finds "Record Not Found" was applied."""
    p = platform(srv)
    sid = p.seed_segment("lost rm", [ADA])
    srv.faults.add("applied_then_lost", 1.0, methods=("DELETE",), limit=1)
    result = srv.client().recipients.remove(sid, [ADA])
    assert [o.status for o in result] == [OutcomeStatus.removed]
    assert p.member_identities(sid) == []


# ------------------------------------------------------------------ fake fidelity


def test_fake_missing_headers_answer_documented_dict() -> None:
    """API-SPEC 2.1: the documented PublicKey/SecretKey error body, HTTP 200."""
    with fake("allstech", "socket") as srv:
        resp = requests.get(srv.base_url + "segment/list", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "failed",
        "errors": {
            "PublicKey": ["The public key field is required."],
            "SecretKey": ["The secret key field is required."],
        },
    }


def test_fake_4xx_switch_uses_real_status_codes() -> None:
    """API-SPEC Unknowns 2: with ``failure_status="4xx"`` failures carry 401/404/422."""
    with fake("allstech", "socket", failure_status="4xx") as srv:
        p = platform(srv)
        sid = p.seed_segment("x")
        headers = {"PublicKey": p.default.public_key, "SecretKey": p.default.secret_key}
        url = srv.base_url
        assert requests.get(url + "segment/list", timeout=5).status_code == 401
        r = requests.get(
            url + "segment/email/list", params={"segment_id": 99}, headers=headers, timeout=5
        )
        assert (r.status_code, r.json()["errors"]) == (404, "Record not found")
        r = requests.post(
            url + "segment/email/store",
            files={"segment_id": (None, sid)},
            headers=headers,
            timeout=5,
        )
        assert r.status_code == 422
        r = requests.delete(url + "segment/list", headers=headers, timeout=5)
        assert r.status_code == 405


def test_fake_validates_email_and_segment_id() -> None:
    """API-SPEC 2.3 (guessed Laravel defaults): invalid email and non-integer segment id."""
    with fake("allstech", "socket") as srv:
        p = platform(srv)
        headers = {"PublicKey": p.default.public_key, "SecretKey": p.default.secret_key}
        r = requests.post(
            srv.base_url + "segment/email/store",
            headers=headers,
            timeout=5,
            data={"segment_id": "abc", "first_name": "A", "last_name": "B", "email": "nope"},
        )
    assert r.json()["errors"] == {
        "segment_id": ["The segment id must be an integer."],
        "email": ["The email must be a valid email address."],
    }


def test_add_reports_progress_once_per_item_across_retry_rounds(srv: FakeServer) -> None:
    """API-SPEC 2.3: retry rounds re-send some POSTs, yet progress counts each item once."""
    p = platform(srv)
    sid = p.seed_segment("progress", [ADA])
    srv.faults.add("reset", 1.0, methods=("POST",), limit=3)
    reports: list[tuple[str, int, int]] = []
    people = [ADA] + [
        Recipient(email=f"q{i}@example.com", first_name="Q", last_name=str(i)) for i in range(5)
    ]
    result = srv.client().recipients.add(
        sid, people, progress=lambda phase, done, total: reports.append((phase, done, total))
    )
    assert [o.status for o in result] == [OutcomeStatus.unchanged] + [OutcomeStatus.added] * 5
    assert srv.log.count("POST") == 8, "three writes were re-sent"
    assert max(done for _, done, _ in reports) == len(people)
    assert reports[-1] == ("adding", len(people), len(people))
