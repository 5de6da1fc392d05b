"""The documentation's example payloads (API-SPEC 1.12 sources S1-S4; trailing commas fixed,
nothing else changed) parse through the adapter, replayed with ``responses``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from segmentkit import AuthenticationError, SegmentKind, connect

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "0123456789abcdef0123456789abcdef"
BRANDS = {
    "notificatorsms": "notificatorsms.com",
    "sociostacks": "sms.sociostacks.com",
    "invionotifiche": "invionotifiche.it",
}


def _load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize("brand", sorted(BRANDS))
@responses.activate
def test_docs_list_and_get_examples_parse(brand: str) -> None:
    """API-SPEC 1.6: the list example (meta.total, `?page=1` links) and the get example
    (a `filter` segment showing contacts_ids — a docs inconsistency)."""
    base = f"https://{BRANDS[brand]}/api/"
    responses.get(f"{base}segments", json=_load(f"docs-{brand}-segments-list"))
    responses.get(f"{base}segments/1", json=_load(f"docs-{brand}-segment-get"))
    with connect(f"notificator://{KEY}@{BRANDS[brand]}") as c:
        (listed,) = c.segments.list().to_list()
        assert (listed.id, listed.name, listed.kind, listed.recipient_count) == (
            "1",
            "Example",
            SegmentKind.static,
            5,
        )
        assert listed.created_at is not None
        assert listed.created_at.tzinfo is not None
        got = c.segments.get("1")
        assert got.kind is SegmentKind.dynamic
        assert got.rules == ()
        assert got.raw["settings"] == {"contacts_ids": [1, 2, 3, 4, 5]}


@pytest.mark.parametrize("brand", sorted(BRANDS))
@responses.activate
def test_docs_create_and_update_id_answers_parse(brand: str) -> None:
    """API-SPEC 1.6: create/update answer `{"data": {"id": 1}}`; the object is then read."""
    base = f"https://{BRANDS[brand]}/api/"
    empty = {
        "data": [],
        "meta": {"page": 1, "results_per_page": 1000, "total": 0, "total_pages": 0},
        "links": {},
    }
    got = _load(f"docs-{brand}-segment-get")
    got["data"].update(type="custom", name="Example name")
    responses.get(f"{base}segments", json=empty)
    responses.post(f"{base}segments", json=_load(f"docs-{brand}-segment-create"))
    responses.post(f"{base}segments/1", json=_load(f"docs-{brand}-segment-update"))
    responses.get(f"{base}segments/1", json=got)
    with connect(f"notificator://{KEY}@{BRANDS[brand]}") as c:
        created = c.segments.create(
            "Example name", recipients=[{"id": str(i)} for i in range(1, 6)]
        )
        assert created.id == "1"
        assert created.provider_type == "custom"
        renamed = c.segments.update("1", name="Example name")
        assert renamed.name == "Example name"
    posts = [call.request for call in responses.calls if call.request.method == "POST"]
    assert "contacts_ids=1%2C2%2C3%2C4%2C5" in str(posts[0].body)


@responses.activate
def test_docs_error_example_is_authentication_error() -> None:
    """API-SPEC 1.3: the overview's 401 example."""
    responses.get(
        "https://notificatorsms.com/api/segments/1", status=401, json=_load("docs-error-401")
    )
    with (
        connect(f"notificator://{KEY}@notificatorsms.com") as c,
        pytest.raises(AuthenticationError, match="You do not have access"),
    ):
        c.segments.get("1")
