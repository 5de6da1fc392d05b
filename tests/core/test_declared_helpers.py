"""Core helpers adapters declare with instead of coding (issue 11): QueryParams,
validate_items, profile_fields, phone_entry, the Annotated wire markers, and ErrorRules'
carried_status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
import requests
from pydantic import Field

from segmentkit.adapter.query import QueryParams
from segmentkit.adapter.wire import (
    AS_LIST,
    AS_OBJECT,
    AS_TEXT,
    AS_UTC,
    WireModel,
    phone_entry,
    profile_fields,
    validate_items,
)
from segmentkit.errors import (
    AuthenticationError,
    NotFoundError,
    UnexpectedResponseError,
    ValidationError,
)
from segmentkit.http import ErrorRules
from segmentkit.models import SegmentQuery

QP = QueryParams(
    search="search",
    search_with={"search_by": "name"},
    type="type",
    dynamic_type="filter",
    dates={"created": "datetime", "updated": "last_datetime"},
    date_field="datetime_field",
    date_start="from",
    date_end="to",
    order={"name": "name"},
    order_by="order_by",
    order_type="order_type",
)


def test_query_params_translate_each_filter() -> None:
    t = datetime(2024, 5, 1, 12, 30, 15, 999, tzinfo=timezone(timedelta(hours=2)))
    q = SegmentQuery(
        search="vip",
        kind="dynamic",
        updated_after=t,
        created_before=t,
        order_by="name",
        descending=True,
    )
    assert QP.params(q) == {
        "search": "vip",
        "search_by": "name",
        "type": "filter",
        "datetime_field": "datetime",  # one date field per request: the first asked
        "to": "2024-05-01 10:30:15",  # in UTC
        "order_by": "name",
        "order_type": "DESC",
    }
    assert QP.params(SegmentQuery(provider_type="bulk", order_by="id")) == {"type": "bulk"}
    assert QueryParams().params(q) == {}


class _Item(WireModel):
    id: int
    tags: Annotated[list[str], AS_LIST] = Field(default_factory=list)
    meta: Annotated[dict[str, Any], AS_OBJECT] = Field(default_factory=dict)
    at: Annotated[datetime | None, AS_UTC] = None
    note: Annotated[str, AS_TEXT] = ""


def test_markers_apply_the_lenient_coercions() -> None:
    item = _Item.model_validate(
        {"id": "3", "tags": '["a"]', "meta": [], "at": "2024-01-02 03:04:05", "note": 7}
    )
    assert (item.id, item.tags, item.meta, item.note) == (3, ["a"], {}, "7")
    assert item.at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert _Item.model_validate(
        {"id": 1, "tags": {"0": "x", "2": "y"}, "at": "0000-00-00"}
    ).tags == [
        "x",
        "y",
    ]


def test_validate_items_is_one_call_and_names_the_bad_item() -> None:
    assert [i.id for i in validate_items(_Item, [{"id": 1}, {"id": "2"}], what="x")] == [1, 2]
    with pytest.raises(UnexpectedResponseError) as info:
        validate_items(
            _Item,
            [{"id": 1}, {"id": 2}, {"id": "no"}],
            what="things list",
            provider="p",
            excerpt=lambda d: f"<{d}>",
        )
    assert "things list format (item 3 of the page): id:" in str(info.value)
    assert info.value.raw_body == "<{'id': 'no'}>"
    assert info.value.provider == "p"


def test_profile_fields_split_and_normalise() -> None:
    profile, rest = profile_fields(
        {"email": " Ada@Example.COM ", "first_name": " Ada ", "last_name": "", "plan": None, 3: 4}
    )
    assert profile == {"email": "Ada@example.com", "first_name": "Ada"}
    assert rest == {"last_name": "", "plan": "", "3": "4"}
    assert profile_fields({"email": "not-an-address"}) == ({}, {"email": "not-an-address"})


def test_phone_entry_keeps_what_the_normaliser_refuses() -> None:
    assert phone_entry("+39 331 000 0001") == ("+393310000001", True)
    assert phone_entry("12") == ("12", False)


def _response(status: int) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    return r


@pytest.mark.parametrize(
    ("carried", "expected", "code"),
    [
        (404, NotFoundError, 404),
        ("401", AuthenticationError, 401),
        ("x", ValidationError, 400),
        (None, ValidationError, 400),
        (200, UnexpectedResponseError, 200),
    ],
)
def test_carried_status_classifies_a_failing_2xx_envelope(
    carried: Any, expected: type[Exception], code: int
) -> None:
    rules = ErrorRules(
        status={400: ValidationError},
        success=lambda b: "errors" not in b,
        carried_status="errors.0.status",
    )
    body = {"errors": [{"title": "t", "status": carried}]}
    error = rules.error_for(_response(200), body)
    assert type(error) is expected
    assert error is not None
    assert error.status_code == code
    plain = ErrorRules(success=lambda b: "errors" not in b).error_for(_response(200), body)
    assert type(plain) is UnexpectedResponseError  # without the declaration: as before
