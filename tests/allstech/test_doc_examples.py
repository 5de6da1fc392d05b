"""Replay of the documented allstechnology examples (``shared/providers/allstech-segments.txt``,
API-SPEC 2.3) through ``responses``: the JSON is copied verbatim into ``fixtures/``, fixing only
the literal ``...`` placeholders (API-SPEC 2.5.4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
import responses

from segmentkit import (
    AuthenticationError,
    Client,
    NotFoundError,
    Operator,
    OutcomeStatus,
    Recipient,
    SegmentKind,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
    connect,
)
from segmentkit.errors import APIError, RateLimitError

from .conftest import HERE

BASE = "https://mail.allstechnology.com/api/"


def fixture(name: str) -> Any:
    return json.loads((HERE / "fixtures" / f"{name}.json").read_text())


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def client() -> Iterator[Client]:
    with connect(
        "allstech://PUBLICKEY1:SECRETKEY1@mail.allstechnology.com",
        backoff_base=0.001,
        backoff_max=0.002,
    ) as c:
        yield c


def test_doc_segment_list_maps_both_examples(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.3 segment/list example: "is after" and a two-value "is between"."""
    mocked.get(
        BASE + "segment/list",
        json=fixture("segment_list"),
        match=[
            responses.matchers.header_matcher(
                {"PublicKey": "PUBLICKEY1", "SecretKey": "SECRETKEY1"}
            )
        ],
    )
    test5, test4 = client.segments.list()
    assert (test5.id, test5.name, test5.recipient_count) == ("10", "Test5", 1)
    assert test5.kind is SegmentKind.static
    assert test5.created_at == datetime(2023, 11, 8, 9, 37, 42, tzinfo=timezone.utc)
    assert test5.rules[0].operator is Operator.after
    assert test5.rules[0].values == ("2023-11-08T15:12",)
    assert test4.rules[0].operator is Operator.between
    assert test4.rules[0].values == ("25", "60")
    assert test4.extra["contact_type_id"] == 1
    assert test4.match == "all"


def test_doc_missing_keys_raise_authentication_error(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.1: the documented missing-header answer (HTTP 200)."""
    mocked.get(BASE + "segment/list", json=fixture("missing_keys"))
    with pytest.raises(AuthenticationError) as info:
        client.segments.list().to_list()
    assert info.value.field_errors["PublicKey"] == ["The public key field is required."]


def test_doc_recipient_list_maps_example(mocked: responses.RequestsMock, client: Client) -> None:
    """API-SPEC 2.3 segment/email/list example."""
    mocked.get(BASE + "segment/email/list?segment_id=7", json=fixture("recipient_list"))
    (malan,) = client.recipients.list(7)
    assert (malan.id, malan.email, malan.first_name, malan.last_name) == (
        "17",
        "malan@gmail.com",
        "David",
        "Malan",
    )
    assert malan.country is None
    assert malan.attributes == {}


def test_doc_recipient_list_not_found_raises_not_found(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.3: "Record not found"; the segment list confirms the segment is missing."""
    mocked.get(BASE + "segment/email/list?segment_id=7", json=fixture("recipient_list_not_found"))
    mocked.get(BASE + "segment/list", json=fixture("segment_list"))
    with pytest.raises(NotFoundError):
        client.recipients.list(7).to_list()


def test_doc_recipient_store_success_and_validation(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.3 segment/email/store: "Added Successfully" and the field-error example."""
    mocked.get(BASE + "segment/email/list?segment_id=7", json=fixture("recipient_list"))
    mocked.post(BASE + "segment/email/store", json=fixture("recipient_store_success"))
    mocked.post(BASE + "segment/email/store", json=fixture("recipient_store_invalid"))
    result = client.recipients.add(
        7,
        [
            Recipient(email="alexhels@gmail.com", first_name="Alex", last_name="Hels"),
            Recipient(email="b@example.com", first_name="B", last_name="C"),
            Recipient(email="MALAN@gmail.com", first_name="David", last_name="Malan"),
        ],
    )
    statuses = sorted(o.status.value for o in result)
    assert statuses == ["added", "rejected", "unchanged"]
    rejected = result.rejected[0]
    assert "The email field is required." in (rejected.reason or "")
    assert result.items[2].status is OutcomeStatus.unchanged


def test_doc_recipient_delete_success_and_not_found(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.3 segment/email/delete: success, and "Record Not Found" = already gone."""
    mocked.get(BASE + "segment/email/list?segment_id=7", json=fixture("recipient_list"))
    mocked.delete(
        BASE + "segment/email/delete?segment_recipient_id=17",
        json=fixture("recipient_delete_success"),
    )
    assert [o.status for o in client.recipients.remove(7, ["17"])] == [OutcomeStatus.removed]
    mocked.delete(
        BASE + "segment/email/delete?segment_recipient_id=17",
        json=fixture("recipient_delete_not_found"),
    )
    assert [o.status for o in client.recipients.remove(7, ["17"])] == [OutcomeStatus.unchanged]


def test_doc_segment_delete_success_under_errors_key(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.2/2.5.1: segment delete success is keyed ``errors``; failure is not found."""
    mocked.delete(BASE + "segment/delete?segment_id=26", json=fixture("segment_delete_success"))
    client.segments.delete(26)
    mocked.delete(BASE + "segment/delete?segment_id=26", json=fixture("segment_delete_not_found"))
    with pytest.raises(NotFoundError):
        client.segments.delete(26)


def _response(status: int, body: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    return resp


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"status": "failed", "errors": "Unauthorized"}, AuthenticationError),
        (200, {"status": "failed", "errors": "Invalid key"}, AuthenticationError),
        (200, {"status": "failed", "errors": "Invalid Public Key"}, AuthenticationError),
        (401, {"status": "failed", "errors": "Something"}, AuthenticationError),
        (403, {"status": "failed", "errors": "Nope"}, AuthenticationError),
        (422, fixture("missing_keys"), AuthenticationError),
        (200, {"status": "failed", "errors": {"SecretKey": ["x"]}}, AuthenticationError),
        (200, {"status": "failed", "errors": "Record not found"}, NotFoundError),
        (200, {"status": "failed", "errors": "RECORD NOT FOUND"}, NotFoundError),
        (404, {"status": "failed", "errors": "Record Not Found"}, NotFoundError),
        (200, fixture("recipient_store_invalid"), ValidationError),
        (422, fixture("recipient_store_invalid"), ValidationError),
        # An unnamed HTTP-200 failure is the vendor answering an exception (API-SPEC 2.7):
        # its outcome is unknown, so the engine re-reads before any re-send.
        (200, {"status": "failed", "message": "Something went wrong"}, UnexpectedResponseError),
        (429, {"status": "failed", "errors": "Too Many Attempts."}, RateLimitError),
        (500, {"status": "failed", "errors": "Record not found"}, ServerError),
        (200, {"data": []}, UnexpectedResponseError),
        (200, ["not", "an", "envelope"], UnexpectedResponseError),
        (200, {"status": "ok", "message": {}}, UnexpectedResponseError),
    ],
)
def test_error_from_response_maps_envelopes(
    client: Client, status: int, body: Any, expected: type[APIError]
) -> None:
    """API-SPEC 2.2: decide on ``status``; the same mapping with or without 4xx codes."""
    error = client.adapter.error_from_response(_response(status, body), body)
    assert type(error) is expected


@pytest.mark.parametrize(
    "body",
    [
        fixture("segment_list"),
        fixture("recipient_store_success"),
        fixture("segment_delete_success"),
    ],
)
def test_error_from_response_success_is_none(client: Client, body: Any) -> None:
    """API-SPEC 2.2: success envelopes (``message`` object/string, or ``errors``) pass."""
    assert client.adapter.error_from_response(_response(200, body), body) is None


def test_non_envelope_5xx_and_html_use_status_table(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.2: a non-envelope 5xx is a ServerError (core table), never a KeyError."""
    mocked.get(BASE + "segment/list", json={"message": "Server Error"}, status=500)
    mocked.get(BASE + "segment/list", body="<html><h1>502 Bad Gateway</h1></html>", status=502)
    mocked.get(BASE + "segment/list", body="<html><h1>502 Bad Gateway</h1></html>", status=502)
    mocked.get(BASE + "segment/list", body="<html><h1>502 Bad Gateway</h1></html>", status=502)
    with pytest.raises(ServerError) as info:
        client.segments.list().to_list()
    assert "<html" not in str(info.value)


def test_success_with_wrong_payload_shape_raises_unexpected(
    mocked: responses.RequestsMock, client: Client
) -> None:
    """API-SPEC 2.2: a success whose payload is not the documented object is a typed error."""
    mocked.get(BASE + "segment/list", json={"status": "success", "message": "Added Successfully"})
    with pytest.raises(UnexpectedResponseError):
        client.segments.list().to_list()
    mocked.get(BASE + "segment/list", json={"status": "success", "message": {"segments": [{}]}})
    with pytest.raises(UnexpectedResponseError):
        client.segments.list().to_list()
