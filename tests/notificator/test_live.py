"""Against a real 66text deployment: skipped unless ``SEGMENTKIT_LIVE_NOTIFICATOR_DSN`` is
set (never in CI); the write suite also needs ``SEGMENTKIT_LIVE_WRITE=1`` and cleans up after
itself (every segment it made is deleted; contacts it made are deleted).

Run against the loopback v2.0.1 server (``shared/realworld/66text``)::

    SEGMENTKIT_LIVE_NOTIFICATOR_DSN=$(cat dsn) SEGMENTKIT_LIVE_WRITE=1 \\
        pytest -q tests/notificator/test_live.py tests/notificator/test_contract.py

The client is connected with the adapter's own pacing (``RateLimit(60, 60.0,
whole_seconds=True)``: the window lasts 60 to 61 s and ``Reset: 0`` still refuses, API-SPEC
1.11c); no widened window is needed.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

from segmentkit import Client, NotFoundError, OutcomeStatus, Recipient, ServerError, connect

DSN = os.environ.get("SEGMENTKIT_LIVE_NOTIFICATOR_DSN")
WRITE = os.environ.get("SEGMENTKIT_LIVE_WRITE") == "1"
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not DSN, reason="SEGMENTKIT_LIVE_NOTIFICATOR_DSN is not set"),
]
writes = pytest.mark.skipif(not WRITE, reason="writes not allowed (SEGMENTKIT_LIVE_WRITE=1)")

#: Two contacts of the loopback server's seed (shared/realworld/66text/seed.php).
MARIO = "+393331234567"
GIULIA = "+393471112233"
UNKNOWN = "+15005550006"  # a number that is nobody's contact


@pytest.fixture(scope="module")
def live() -> Iterator[Client]:
    with connect(DSN or "") as client:
        yield client
        # SEGMENTKIT_LIVE_STATS=path: the client's counters (requests, 429s met, seconds
        # paced) are appended there, for the run's report; never a credential.
        out = os.environ.get("SEGMENTKIT_LIVE_STATS")
        if out:
            st = client.stats
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(
                    f"test_live: requests={st.requests} retries={st.retries} "
                    f"rate_limited={st.rate_limited} paced_seconds={st.paced_seconds:.1f} "
                    f"by_status={dict(sorted(st.by_status.items()))}\n"
                )


@pytest.fixture
def made(live: Client) -> Iterator[list[str]]:
    """Ids of segments a test creates; all deleted afterwards, whatever happened."""
    ids: list[str] = []
    yield ids
    for sid in ids:
        with contextlib.suppress(NotFoundError):
            live.segments.delete(sid)


def _name() -> str:
    return f"segmentkit-live-{uuid.uuid4().hex[:8]}"


def test_live_list_and_get_agree(live: Client) -> None:
    """API-SPEC 1.5/1.6 on the real server: every listed segment can be read by id."""
    for seg in live.segments.list(page_size=10):
        assert live.segments.get(seg.id).id == seg.id
        break


def test_live_missing_segment_is_not_found(live: Client) -> None:
    """API-SPEC 1.6: an unknown id is 404."""
    with pytest.raises(NotFoundError):
        live.segments.get("2147483000")


@writes
def test_live_create_rename_delete(live: Client, made: list[str]) -> None:
    """API-SPEC 1.6/1.11c: create, rename (the v2.0.1 HTML 500, nothing changed), delete."""
    seg = live.segments.create(_name(), recipients=[Recipient(phone=MARIO)])
    made.append(seg.id)
    outcome: object
    try:
        outcome = live.segments.update(seg.id, name=seg.name + "-r").name
    except ServerError as exc:
        outcome = exc
    if isinstance(outcome, ServerError):
        assert "66text v2.0.1" in str(outcome)
        assert live.segments.get(seg.id).name == seg.name
    else:
        assert outcome == seg.name + "-r"
    live.segments.delete(seg.id)
    with pytest.raises(NotFoundError):
        live.segments.get(seg.id)


@writes
def test_live_create_empty_static_segment(live: Client, made: list[str]) -> None:
    """API-SPEC 1.11c: an empty static segment can be created (as ``custom``: a bulk create
    without numbers is an HTML 500 on v2.0.1) and deleted."""
    seg = live.segments.create(_name(), recipients=[])
    made.append(seg.id)
    assert seg.provider_type == "custom"
    assert list(live.recipients.list(seg.id)) == []


@writes
def test_live_static_segment_members_are_enriched(live: Client, made: list[str]) -> None:
    """API-SPEC 1.11c: a segment made from phones lists them back; numbers that are the
    account's contacts come with their contact id and name even though v2.0.1 links none."""
    seg = live.segments.create(
        _name(), recipients=[Recipient(phone=MARIO), Recipient(phone=GIULIA), UNKNOWN]
    )
    made.append(seg.id)
    members = {r.phone: r for r in live.recipients.list(seg.id)}
    assert set(members) == {MARIO, GIULIA, UNKNOWN}
    assert members[MARIO].name == "Mario Rossi"
    assert members[MARIO].id is not None
    assert members[GIULIA].name == "Giulia Bianchi"
    assert members[UNKNOWN].id is None
    # v2.0.1 reports total_contacts 0 for it; the count is its numbers (API-SPEC 1.11c).
    assert live.segments.get(seg.id).recipient_count == 3


@writes
def test_live_failed_custom_add_names_the_kept_contact(live: Client, made: list[str]) -> None:
    """API-SPEC 1.7/1.11c: adding a new number to a custom segment creates its contact; when
    the segment update then fails (HTML 500 on v2.0.1) the reason names the contact kept."""
    seg = live.segments.create(_name(), recipients=[])
    made.append(seg.id)
    number = f"+39347{uuid.uuid4().int % 10_000_000:07d}"
    result = live.recipients.add(seg.id, [Recipient(phone=number, name="segmentkit live")])
    cid: str | None = None
    try:
        # v2.0.1 ignores `search` (API-SPEC 1.5): read the contacts pages, at most 20.
        for page in range(1, 21):
            body = live.request(
                "GET",
                "contacts",
                params={
                    "search": number,
                    "search_by": "phone_number",
                    "page": page,
                    "results_per_page": 1000,
                },
            )
            rows = body.get("data", []) if isinstance(body, dict) else []
            cid = next((str(r["id"]) for r in rows if r.get("phone_number") == number), None)
            meta = body.get("meta") if isinstance(body, dict) else None
            last = meta.get("total_pages") if isinstance(meta, dict) else None
            if cid is not None or not rows or (last is not None and page >= int(last)):
                break
        item = result.items[0]
        if item.status is OutcomeStatus.failed:
            assert cid is not None
            assert f"contact {cid}" in (item.reason or "")
            assert "kept" in (item.reason or "")
        else:
            assert [r.phone for r in live.recipients.list(seg.id)] == [number]
    finally:
        if cid is not None:
            with contextlib.suppress(NotFoundError):
                live.request("DELETE", f"contacts/{cid}", allow_empty=True)


@writes
def test_live_filter_segment_members_are_case_sensitive(live: Client, made: list[str]) -> None:
    """API-SPEC 1.11c: ``city equals roma`` picks nobody (stored ``Roma``), ``Roma`` picks
    Mario; the answer agrees with the server's own total_contacts."""
    lower = live.segments.create(
        _name(), rules=[{"field": "city", "operator": "equals", "values": ["roma"]}]
    )
    made.append(lower.id)
    exact = live.segments.create(
        _name(), rules=[{"field": "city", "operator": "equals", "values": ["Roma"]}]
    )
    made.append(exact.id)
    assert list(live.recipients.list(lower.id)) == []
    assert [r.phone for r in live.recipients.list(exact.id)] == [MARIO]
    assert live.segments.get(exact.id).recipient_count == 1
    assert live.segments.get(lower.id).recipient_count == 0


@writes
def test_live_add_and_remove_members_report_each_item(live: Client, made: list[str]) -> None:
    """API-SPEC 1.6/1.11c: adding to / removing from a static segment needs a segment update,
    which v2.0.1 answers with an HTML 500 (nothing changed): every item is reported failed
    with a reason, and the members stay as they were. (A newer build applies them.)"""
    seg = live.segments.create(_name(), recipients=[Recipient(phone=MARIO)])
    made.append(seg.id)
    added = live.recipients.add(seg.id, [Recipient(phone=GIULIA)])
    assert len(added.items) == 1
    after_add = {r.phone for r in live.recipients.list(seg.id)}
    if added.items[0].status is OutcomeStatus.failed:
        assert added.items[0].reason
        assert after_add == {MARIO}
    else:
        assert after_add == {MARIO, GIULIA}
    removed = live.recipients.remove(seg.id, [MARIO])
    assert len(removed.items) == 1
    after_remove = {r.phone for r in live.recipients.list(seg.id)}
    if removed.items[0].status is OutcomeStatus.failed:
        assert removed.items[0].reason
        assert MARIO in after_remove
    else:
        assert MARIO not in after_remove
