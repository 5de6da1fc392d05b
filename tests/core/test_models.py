"""The neutral models: recipient validation, segment normalisation, rules, queries, results."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentkit import (
    BulkResult,
    InvalidRecipientError,
    ItemOutcome,
    Operator,
    OutcomeStatus,
    Recipient,
    Rule,
    Segment,
    SegmentKind,
    SegmentQuery,
)

UTC = timezone.utc

# ----------------------------------------------------------------------------- Recipient


@pytest.mark.parametrize(
    "raw",
    [
        "+39 333 123 4567",
        "+393331234567",
        "0039 333 1234567",
        "00393331234567",
        "+39 (333) 123-4567",
        "  +39 333 1234567  ",
    ],
)
def test_recipient_phone_is_normalised_to_e164(raw):
    assert Recipient.parse({"phone": raw}).phone == "+393331234567"


def test_recipient_bare_string_without_at_is_a_phone():
    assert Recipient.parse("+39 333 123 4567").phone == "+393331234567"


def test_recipient_national_phone_without_region_is_rejected_naming_phone():
    with pytest.raises(InvalidRecipientError) as info:
        Recipient.parse({"phone": "333 1234567"})
    assert info.value.field == "phone"
    assert info.value.value == "333 1234567"
    assert "phone" in info.value.reason
    assert "default_region" in info.value.reason


def test_recipient_national_phone_with_default_region_is_accepted():
    assert Recipient.parse("333 1234567", default_region="IT").phone == "+393331234567"


def test_recipient_default_region_does_not_override_international_prefix():
    r = Recipient.parse("+44 7911 123456", default_region="IT")
    assert r.phone == "+447911123456"


@pytest.mark.parametrize("raw", ["+39 12", "+1 000", "+999 1234567", "+39 abc", "++39333"])
def test_recipient_invalid_phone_is_rejected(raw):
    with pytest.raises(InvalidRecipientError) as info:
        Recipient.parse({"phone": raw})
    assert info.value.field == "phone"
    assert info.value.value == raw
    assert raw in info.value.reason


def test_recipient_direct_construction_with_invalid_phone_raises_validation_error():
    """Building the model directly still refuses bad data (a ``Recipient`` that exists is valid)."""
    with pytest.raises(pydantic.ValidationError):
        Recipient(phone="+39 12")


def test_recipient_email_domain_is_lower_cased():
    r = Recipient.parse("Ada.Rossi@EXAMPLE.COM")
    assert r.email == "Ada.Rossi@example.com"


def test_recipient_email_is_stripped():
    assert Recipient.parse({"email": "  ada@example.com "}).email == "ada@example.com"


@pytest.mark.parametrize(
    "raw", ["not-an-email@", "@example.com", "ada@", "ada@@example.com", "ada example.com@x"]
)
def test_recipient_invalid_email_is_rejected_naming_field_and_value(raw):
    with pytest.raises(InvalidRecipientError) as info:
        Recipient.parse({"email": raw})
    assert info.value.field == "email"
    assert info.value.value == raw
    assert repr(raw) in info.value.reason


def test_recipient_country_is_upper_cased():
    assert Recipient.parse({"email": "a@example.com", "country": "it"}).country == "IT"


@pytest.mark.parametrize("country", ["ITA", "I", "1T", "i t"])
def test_recipient_bad_country_is_rejected_naming_country(country):
    with pytest.raises(InvalidRecipientError) as info:
        Recipient.parse({"email": "a@example.com", "country": country})
    assert info.value.field == "country"


@pytest.mark.parametrize(
    "data",
    [{}, {"first_name": "Ada"}, {"email": "", "phone": "", "id": ""}, {"name": "  "}],
)
def test_recipient_without_identity_is_rejected(data):
    with pytest.raises(InvalidRecipientError, match="no email, phone or id"):
        Recipient.parse(data)


def test_recipient_with_only_id_is_accepted_and_int_id_becomes_string():
    assert Recipient.parse({"id": 42}).id == "42"


@pytest.mark.parametrize("data", [42, 4.2, None, ["a@example.com"]])
def test_recipient_parse_of_unsupported_type_raises_invalid_recipient(data):
    with pytest.raises(InvalidRecipientError):
        Recipient.parse(data)


def test_recipient_unknown_text_field_becomes_a_string_attribute():
    # issue 16: csv.DictReader rows are accepted, extra columns kept as attributes
    r = Recipient.parse({"E-mail": "a@example.com", "shoe_size": 42, "Phone number": ""})
    assert (r.email, r.phone, r.attributes) == ("a@example.com", None, {"shoe_size": "42"})


def test_recipient_unknown_structured_field_raises_invalid_recipient_saying_how_to_map_it():
    with pytest.raises(InvalidRecipientError, match=r"shoe_size.*map_record"):
        Recipient.parse({"email": "a@example.com", "shoe_size": [42]})


def test_recipient_attributes_are_coerced_to_strings():
    r = Recipient.parse(
        {"email": "a@example.com", "attributes": {"age": 42, "vip": True, "none": None, 1: 2.5}}
    )
    assert r.attributes == {"age": "42", "vip": "True", "none": "", "1": "2.5"}


def test_recipient_parse_returns_recipient_instances_unchanged():
    r = Recipient(email="a@example.com")
    assert Recipient.parse(r) is r


def test_recipient_identity_depends_on_channel():
    r = Recipient.parse({"email": "Ada@Example.com", "phone": "+393331234567"})
    assert r.identity("sms") == "+393331234567"
    assert r.identity("email") == "ada@example.com"


def test_recipient_identity_is_none_when_channel_identity_missing():
    assert Recipient.parse("+393331234567").identity("email") is None
    assert Recipient.parse("a@example.com").identity("sms") is None
    assert Recipient.parse({"id": "7"}).identity("sms") is None


def test_recipient_display_name_prefers_name_then_parts_then_identity():
    assert Recipient(email="a@example.com", name="Ada R").display_name == "Ada R"
    assert (
        Recipient(email="a@example.com", first_name="Ada", last_name="Rossi").display_name
        == "Ada Rossi"
    )
    assert Recipient(email="a@example.com").display_name == "a@example.com"


def test_recipient_is_frozen():
    r = Recipient(email="a@example.com")
    with pytest.raises(pydantic.ValidationError):
        r.email = "b@example.com"  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=40),
    where=st.sampled_from(["phone", "email", "bare"]),
    region=st.sampled_from([None, "IT", "US", "XX"]),
)
def test_recipient_parse_of_random_text_raises_only_invalid_recipient(text, where, region):
    data = text if where == "bare" else {where: text}
    try:
        r = Recipient.parse(data, default_region=region)
    except InvalidRecipientError:
        return
    assert r.phone is None or r.phone.startswith("+")


@settings(max_examples=300, deadline=None)
@given(
    text=st.from_regex(r"\A[+0 ()\-0-9]{0,22}\Z"),
    region=st.sampled_from([None, "IT", "GB"]),
)
def test_recipient_parse_of_phone_like_text_raises_only_invalid_recipient(text, region):
    try:
        r = Recipient.parse({"phone": text}, default_region=region)
    except InvalidRecipientError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.field in ("phone", None)
        return
    assert r.phone is not None
    assert r.phone.startswith("+")
    assert r.phone[1:].isdigit()


# ----------------------------------------------------------------------------- Segment


def _seg(id_="1", name="s", **kw):
    return Segment(id=id_, provider="memory", name=name, kind=SegmentKind.static, **kw)


def test_segment_naive_datetime_becomes_utc():
    seg = _seg(created_at=datetime(2024, 1, 2, 3, 4, 5))
    assert seg.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert seg.created_at.tzinfo is not None
    assert seg.created_at.utcoffset() == timedelta(0)


def test_segment_aware_datetime_is_converted_to_utc():
    rome = timezone(timedelta(hours=2))
    seg = _seg(updated_at=datetime(2024, 6, 1, 12, 0, tzinfo=rome))
    assert seg.updated_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert seg.updated_at.utcoffset() == timedelta(0)


def test_segment_iso_string_datetime_is_parsed_to_utc():
    seg = _seg(created_at="2024-06-01T12:00:00+02:00")
    assert seg.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def test_segment_int_id_becomes_string():
    assert _seg(id_=17).id == "17"


def test_segment_unknown_field_is_refused():
    with pytest.raises(pydantic.ValidationError):
        _seg(colour="red")


# ----------------------------------------------------------------------------- Rule


def test_rule_between_needs_exactly_two_values():
    with pytest.raises(pydantic.ValidationError, match="two values"):
        Rule(field="age", operator=Operator.between, values=["1"])
    with pytest.raises(pydantic.ValidationError, match="two values"):
        Rule(field="age", operator=Operator.between, values=["1", "2", "3"])
    assert Rule(field="age", operator="between", values=[1, 2]).values == ("1", "2")


def test_rule_other_needs_native_operator():
    with pytest.raises(pydantic.ValidationError, match="native_operator"):
        Rule(field="x", operator=Operator.other, values=["1"])
    rule = Rule(field="x", operator=Operator.other, values=["1"], native_operator="regex")
    assert rule.native_operator == "regex"


def test_rule_single_value_becomes_a_string_tuple():
    assert Rule(field="x", operator="equals", values=5).values == ("5",)
    assert Rule(field="x", operator="in", values=["a", 2]).values == ("a", "2")


def test_rule_empty_field_is_refused():
    with pytest.raises(pydantic.ValidationError):
        Rule(field="", operator="equals", values="1")


# ----------------------------------------------------------------------------- SegmentQuery


def _dated(id_, name, created, updated=None, count=None):
    return _seg(id_=id_, name=name, created_at=created, updated_at=updated, recipient_count=count)


D = datetime(2024, 1, 1, tzinfo=UTC)
SEGMENTS = [
    _dated("1", "VIP Rome", D, D + timedelta(days=5), 10),
    _dated("2", "vip milan", D + timedelta(days=1), D + timedelta(days=2), None),
    _dated("3", "Newsletter", D + timedelta(days=2), None, 3),
    _dated("10", "Another VIP", None, D + timedelta(days=1), 7),
]


def _ids(segs):
    return [s.id for s in segs]


def test_query_search_is_case_insensitive_substring():
    assert _ids(SegmentQuery(search="VIP").apply(SEGMENTS)) == ["1", "2", "10"]
    assert _ids(SegmentQuery(search="vIp MiL").apply(SEGMENTS)) == ["2"]


def test_query_date_ranges_are_inclusive():
    q = SegmentQuery(created_after=D, created_before=D + timedelta(days=1))
    assert _ids(q.apply(SEGMENTS)) == ["1", "2"]
    q = SegmentQuery(updated_after=D + timedelta(days=2), updated_before=D + timedelta(days=5))
    assert _ids(q.apply(SEGMENTS)) == ["1", "2"]


def test_query_date_filter_excludes_segments_without_the_date():
    q = SegmentQuery(created_after=datetime(2000, 1, 1, tzinfo=UTC))
    assert "10" not in _ids(q.apply(SEGMENTS))


def test_query_naive_bounds_are_taken_as_utc():
    q = SegmentQuery(created_after=datetime(2024, 1, 2), created_before=datetime(2024, 1, 2))
    assert q.created_after == D + timedelta(days=1)
    assert _ids(q.apply(SEGMENTS)) == ["2"]


def test_query_order_by_name_is_case_insensitive_ascending_and_descending():
    assert _ids(SegmentQuery(order_by="name").apply(SEGMENTS)) == ["10", "3", "2", "1"]
    assert _ids(SegmentQuery(order_by="name", descending=True).apply(SEGMENTS)) == [
        "1",
        "2",
        "3",
        "10",
    ]


def test_query_order_puts_missing_values_first_ascending_and_last_descending():
    asc = _ids(SegmentQuery(order_by="recipient_count").apply(SEGMENTS))
    assert asc == ["2", "3", "10", "1"]
    desc = _ids(SegmentQuery(order_by="recipient_count", descending=True).apply(SEGMENTS))
    assert desc == ["1", "10", "3", "2"]
    assert _ids(SegmentQuery(order_by="created_at").apply(SEGMENTS))[0] == "10"
    assert _ids(SegmentQuery(order_by="updated_at").apply(SEGMENTS))[0] == "3"


def test_query_order_by_id_is_numeric():
    assert _ids(SegmentQuery(order_by="id").apply(SEGMENTS)) == ["1", "2", "3", "10"]
    assert _ids(SegmentQuery(order_by="id", descending=True).apply(SEGMENTS)) == [
        "10",
        "3",
        "2",
        "1",
    ]


def test_query_without_order_keeps_input_order():
    assert _ids(SegmentQuery().apply(reversed(SEGMENTS))) == ["10", "3", "2", "1"]


def test_query_kind_and_provider_type_filter():
    dyn = Segment(
        id="5", provider="memory", name="d", kind=SegmentKind.dynamic, provider_type="rules"
    )
    segs = [*SEGMENTS, dyn]
    assert _ids(SegmentQuery(kind="dynamic").apply(segs)) == ["5"]
    assert _ids(SegmentQuery(provider_type="rules").apply(segs)) == ["5"]


def test_query_has_filters_ignores_ordering():
    assert not SegmentQuery(order_by="name", descending=True, page_size=5).has_filters
    assert SegmentQuery(search="x").has_filters


def test_query_refuses_unknown_order_field_and_bad_page_size():
    with pytest.raises(pydantic.ValidationError):
        SegmentQuery(order_by="colour")
    with pytest.raises(pydantic.ValidationError):
        SegmentQuery(page_size=0)


# ----------------------------------------------------------------------------- BulkResult


def _outcomes(*statuses):
    return BulkResult(items=tuple(ItemOutcome(index=i, status=s) for i, s in enumerate(statuses)))


def test_bulk_result_counts_every_status_including_zero():
    result = _outcomes(OutcomeStatus.added, OutcomeStatus.added, OutcomeStatus.unchanged)
    assert result.counts == {
        "added": 2,
        "removed": 0,
        "unchanged": 1,
        "rejected": 0,
        "failed": 0,
    }
    assert len(result) == 3
    assert [o.index for o in result] == [0, 1, 2]


def test_bulk_result_ok_is_false_when_anything_rejected_or_failed():
    assert _outcomes(OutcomeStatus.added, OutcomeStatus.unchanged).ok
    assert not _outcomes(OutcomeStatus.added, OutcomeStatus.rejected).ok
    assert not _outcomes(OutcomeStatus.failed).ok
    assert _outcomes().ok


def test_bulk_result_failed_and_rejected_lists():
    result = _outcomes(OutcomeStatus.rejected, OutcomeStatus.failed, OutcomeStatus.rejected)
    assert [o.index for o in result.rejected] == [0, 2]
    assert [o.index for o in result.failed] == [1]


def test_bulk_result_summary_lists_nonzero_counts_in_status_order():
    result = _outcomes(
        OutcomeStatus.rejected, OutcomeStatus.added, OutcomeStatus.added, OutcomeStatus.unchanged
    )
    assert result.summary() == "added 2, unchanged 1, rejected 1"
    assert _outcomes().summary() == "nothing to do"


# ---------------------------------------------------------------------------- trusted builds
# Adapters build models from already-validated wire values with the private ``_trusted``
# constructors (issue 14); whatever the input, the result must equal full validation's.

_UTC = timezone.utc
_TRUSTED_SEGMENTS = [
    {"id": "1", "provider": "p", "name": "n", "kind": SegmentKind.static},
    {
        "id": "2",
        "provider": "notificator",
        "name": "VIP",
        "kind": SegmentKind.dynamic,
        "provider_type": "filter",
        "rules": (Rule(field="tier", operator=Operator.equals, values=("gold",)),),
        "match": "any",
        "recipient_count": 3,
        "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=_UTC),
        "updated_at": datetime(2024, 1, 2, 3, 4, 5),  # naive: taken as UTC
        "extra": {"settings": {"a": " padded "}},
        "raw": {"id": 2},
    },
    {"id": " 3 ", "provider": "p", "name": " padded ", "kind": SegmentKind.static},
    {"id": "4", "provider": "p", "name": "", "kind": "static", "provider_type": " x"},
    {
        "id": "5",
        "provider": "p",
        "name": "n",
        "kind": SegmentKind.static,
        "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        "recipient_count": True,
    },
]


def _full(fields: dict[str, Any], model: type[Any]) -> dict[str, Any]:
    """What a ``_trusted`` call passes on: every field (``_trusted`` names them all, so every
    field is "set"), ``None`` dicts as empty ones."""
    out = {
        name: info.get_default(call_default_factory=True)
        for name, info in model.model_fields.items()
    }
    out.update(
        {
            k: ({} if v is None and k in ("extra", "raw", "attributes") else v)
            for k, v in fields.items()
        }
    )
    return out


def _alike(trusted: Any, validated: Any) -> None:
    """``trusted`` is indistinguishable from ``validated``: same class, values (in field
    order), fields set, equality both ways, hashing, dumps, repr, copies, pickling, and
    frozen-ness."""
    assert type(trusted) is type(validated)
    assert list(trusted.__dict__.items()) == list(validated.__dict__.items())
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.__pydantic_extra__ == validated.__pydantic_extra__
    assert trusted.__pydantic_private__ == validated.__pydantic_private__
    assert trusted == validated
    assert validated == trusted
    assert (trusted != validated) is False
    assert trusted.model_dump() == validated.model_dump()
    assert trusted.model_dump(mode="json") == validated.model_dump(mode="json")
    assert trusted.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert repr(trusted) == repr(validated)
    assert str(trusted) == str(validated)

    def hashed(m: Any) -> Any:
        try:
            return ("hash", hash(m))
        except TypeError as exc:  # a dict field: neither is hashable
            return ("unhashable", str(exc))

    assert hashed(trusted) == hashed(validated)
    for copied in (
        copy.copy(trusted),
        copy.deepcopy(trusted),
        trusted.model_copy(),
        trusted.model_copy(deep=True),
        pickle.loads(pickle.dumps(trusted)),
        type(trusted).model_validate(trusted.model_dump()),
        type(trusted).model_validate_json(trusted.model_dump_json()),
    ):
        assert copied == validated
        assert copied.model_fields_set == validated.model_fields_set
    assert trusted.__getstate__() == validated.__getstate__()
    assert pickle.loads(pickle.dumps(trusted)).__getstate__() == validated.__getstate__()
    updated = trusted.model_copy(update={"id": "updated"})
    assert updated == validated.model_copy(update={"id": "updated"})
    assert trusted.id == validated.id  # the copy did not touch the original
    with pytest.raises(pydantic.ValidationError) as info:
        trusted.id = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError) as expected:
        validated.id = "changed"  # type: ignore[misc]
    assert info.value.errors()[0]["type"] == expected.value.errors()[0]["type"] == "frozen_instance"
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        trusted.not_a_field = 1  # type: ignore[attr-defined]
    assert trusted == validated


@pytest.mark.parametrize("fields", _TRUSTED_SEGMENTS)
def test_trusted_segment_equals_validated(fields):
    trusted = Segment._trusted(**fields)
    validated = Segment(**_full(fields, Segment))
    _alike(trusted, validated)


_TRUSTED_RECIPIENTS = [
    {"id": "1", "phone": "+393331234567"},
    {"id": "2", "email": "a@example.com", "first_name": "Ann", "country": "IT"},
    {"id": "3", "name": " padded ", "attributes": {"k": " v "}},
    {"id": "4", "first_name": "", "last_name": "", "name": "", "country": None},
    {"id": "5", "country": "it"},
    {"id": "6", "attributes": {"n": 1}},  # not a string: validation converts it
    {"email": "", "phone": "", "id": ""},  # no identity: the usual error
    {"id": "7", "first_name": "\u2003x"},
]


@pytest.mark.parametrize("fields", _TRUSTED_RECIPIENTS)
def test_trusted_recipient_equals_validated(fields):
    try:
        validated = Recipient(**fields)
    except Exception as exc:
        with pytest.raises(type(exc)):
            Recipient._trusted(**fields)
        return
    trusted = Recipient._trusted(**fields)
    _alike(trusted, Recipient(**_full(fields, Recipient)))
    assert trusted == validated
