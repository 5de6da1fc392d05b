"""The real allstechnology platform, only when ``SEGMENTKIT_LIVE_ALLSTECH_DSN`` is set.

Read-only by default. ``SEGMENTKIT_LIVE_WRITE=1`` plus ``SEGMENTKIT_LIVE_ALLSTECH_SEGMENT`` (the
id of a throw-away segment made in the web app) also adds and removes one recipient.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

from segmentkit import Client, NotFoundError, OutcomeStatus, Recipient, SegmentKind

pytestmark = pytest.mark.live

LiveFactory = Callable[..., Client]


def test_live_list_and_get_agree(segmentkit_live: LiveFactory) -> None:
    """API-SPEC 2.3: segment/list answers the documented envelope and fields."""
    client = segmentkit_live("allstech")
    segments = client.segments.list().to_list()
    for seg in segments[:3]:
        assert seg.kind is SegmentKind.static
        assert client.segments.get(seg.id).name == seg.name
        assert all(r.email or r.id for r in client.recipients.list(seg.id))


def test_live_unknown_segment_recipients_raise_not_found(segmentkit_live: LiveFactory) -> None:
    """API-SPEC 2.3: "Record not found" for an unknown segment."""
    client = segmentkit_live("allstech")
    with pytest.raises(NotFoundError):
        client.recipients.list("987654321").to_list()


def test_live_add_then_remove_one_recipient(segmentkit_live: LiveFactory) -> None:
    """API-SPEC 2.3: store then delete one recipient in a throw-away segment."""
    sid = os.environ.get("SEGMENTKIT_LIVE_ALLSTECH_SEGMENT")
    if not sid:
        pytest.skip("set SEGMENTKIT_LIVE_ALLSTECH_SEGMENT to a throw-away segment id")
    client = segmentkit_live("allstech", write=True)
    who = Recipient(
        email=f"segmentkit-{uuid.uuid4().hex[:10]}@example.com",
        first_name="Segmentkit",
        last_name="Test",
    )
    assert [o.status for o in client.recipients.add(sid, [who])] == [OutcomeStatus.added]
    assert [o.status for o in client.recipients.add(sid, [who])] == [OutcomeStatus.unchanged]
    assert [o.status for o in client.recipients.remove(sid, [who])] == [OutcomeStatus.removed]
