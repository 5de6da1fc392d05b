"""Against a real 66text deployment: skipped unless ``SEGMENTKIT_LIVE_NOTIFICATOR_DSN`` is
set; read-only unless ``SEGMENTKIT_LIVE_WRITE=1`` (then it creates and deletes one segment)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from segmentkit import Client, NotFoundError, ServerError, connect

DSN = os.environ.get("SEGMENTKIT_LIVE_NOTIFICATOR_DSN")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not DSN, reason="SEGMENTKIT_LIVE_NOTIFICATOR_DSN is not set"),
]


@pytest.fixture
def live() -> Iterator[Client]:
    with connect(DSN or "") as client:
        yield client


def test_live_list_and_get_agree(live: Client) -> None:
    """API-SPEC 1.5/1.6 on the real server: every listed segment can be read by id."""
    for seg in live.segments.list(page_size=10):
        assert live.segments.get(seg.id).id == seg.id
        break


def test_live_missing_segment_is_not_found(live: Client) -> None:
    """API-SPEC 1.6: an unknown id is 404."""
    with pytest.raises(NotFoundError):
        live.segments.get("2147483000")


@pytest.mark.skipif(os.environ.get("SEGMENTKIT_LIVE_WRITE") != "1", reason="writes not allowed")
def test_live_create_rename_delete(live: Client) -> None:
    """API-SPEC 1.6: create (bulk), rename (may be the v2.0.1 HTML 500), delete."""
    seg = live.segments.create(f"segmentkit-live-{uuid.uuid4().hex[:8]}", recipients=[])
    try:
        outcome: object
        try:
            outcome = live.segments.update(seg.id, name=seg.name + "-r").name
        except ServerError as exc:
            outcome = exc
        if isinstance(outcome, ServerError):
            assert "66text v2.0.1" in str(outcome)
        else:
            assert outcome == seg.name + "-r"
    finally:
        live.segments.delete(seg.id)
