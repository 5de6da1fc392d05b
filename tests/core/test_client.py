"""The Client facade: lazy listings, bounded paging, bulk outcomes, sync and copy."""

from __future__ import annotations

import pytest

from segmentkit import (
    ConfigurationError,
    InvalidRecipientError,
    Listing,
    OutcomeStatus,
    Page,
    SegmentKind,
    UnsupportedOperationError,
    copy_segment,
)
from segmentkit.provider import walk_pages

# ----------------------------------------------------------------------------- Listing


class PagedSource:
    """A fetch function over ``pages`` lists of items, counting calls."""

    def __init__(self, *pages: list[int], total_pages: int | None = None) -> None:
        self.pages = pages
        self.calls: list[object] = []
        self.total_pages = len(pages) if total_pages is None else total_pages

    def __call__(self, token: object) -> Page[int]:
        self.calls.append(token)
        index = 0 if token is None else int(token)  # type: ignore[call-overload]
        return Page(
            items=self.pages[index],
            next_page=index + 1 if index + 1 < len(self.pages) else None,
            page=index + 1,
            total_pages=self.total_pages,
            total=sum(len(p) for p in self.pages),
        )


def test_listing_fetches_nothing_until_iterated():
    source = PagedSource([1, 2], [3, 4], [5])
    listing = Listing("memory", source)
    assert source.calls == []
    it = iter(listing)
    assert source.calls == []
    assert next(it) == 1
    assert source.calls == [None]
    assert next(it) == 2
    assert len(source.calls) == 1
    assert next(it) == 3
    assert source.calls == [None, 1]


def test_listing_iterates_every_item_across_pages_and_restarts_each_time():
    source = PagedSource([1, 2], [3, 4], [5])
    listing = Listing("memory", source)
    assert list(listing) == [1, 2, 3, 4, 5]
    assert listing.to_list() == [1, 2, 3, 4, 5]
    assert source.calls == [None, 1, 2, None, 1, 2]


def test_listing_pages_yields_page_objects_with_totals():
    listing = Listing("memory", PagedSource([1, 2], [3, 4], [5]))
    pages = list(listing.pages())
    assert all(isinstance(p, Page) for p in pages)
    assert [p.page for p in pages] == [1, 2, 3]
    assert {(p.total, p.total_pages) for p in pages} == {(5, 3)}
    assert pages[-1].next_page is None


def test_listing_turns_adapter_surprises_into_unexpected_response_error():
    from segmentkit import UnexpectedResponseError

    def fetch(token):
        raise KeyError("items")

    with pytest.raises(UnexpectedResponseError, match="KeyError"):
        list(Listing("memory", fetch))


def test_walk_pages_stops_on_a_repeated_token():
    calls = []

    def fetch(token):
        calls.append(token)
        return Page(items=[len(calls)], next_page="same")

    assert [p.items[0] for p in walk_pages(fetch)] == [1, 2]
    assert calls == [None, "same"]


def test_walk_pages_stops_on_unhashable_repeated_token():
    calls = []

    def fetch(token):
        calls.append(token)
        return Page(items=[len(calls)], next_page={"cursor": "x"})

    assert len(list(walk_pages(fetch))) == 2


def test_walk_pages_respects_total_pages_when_next_never_ends():
    calls = []

    def fetch(token):
        n = 0 if token is None else token
        calls.append(n)
        return Page(items=[n], next_page=n + 1, total_pages=3)

    pages = list(walk_pages(fetch))
    assert len(pages) <= 4  # total_pages plus at most one probe
    assert len(calls) == len(pages)


def test_walk_pages_is_bounded_by_max_pages():
    def fetch(token):
        n = 0 if token is None else token
        return Page(items=[n], next_page=n + 1)

    assert len(list(walk_pages(fetch, max_pages=25))) == 25


# ----------------------------------------------------------------------------- segments on the fake


def test_segments_list_of_250_uses_three_requests(any_srv):
    for i in range(250):
        any_srv.platform.add_segment(f"segment {i:03d}")
    client = any_srv.client()
    listing = client.segments.list()
    assert any_srv.log.count("GET") == 0
    segments = listing.to_list()
    assert len(segments) == 250
    assert len({s.id for s in segments}) == 250
    assert any_srv.log.count("GET", "^segments$") == 3
    assert all(r.query["per_page"] == ["100"] for r in any_srv.log.filter("GET"))


def test_segments_list_is_lazy_on_the_fake(srv):
    for i in range(150):
        srv.platform.add_segment(f"s{i}")
    client = srv.client()
    first = next(iter(client.segments.list()))
    assert first.id == "1"
    assert srv.log.count("GET") == 1


def test_segments_list_search_filters_case_insensitively(srv):
    for name in ("VIP Rome", "vip milan", "newsletter"):
        srv.platform.add_segment(name)
    client = srv.client()
    assert [s.name for s in client.segments.list("Vip")] == ["VIP Rome", "vip milan"]
    assert [s.name for s in client.segments.list(order_by="name", descending=True)] == [
        "VIP Rome",
        "vip milan",
        "newsletter",
    ]


def test_segments_list_order_applies_across_pages(srv):
    for i in range(150):
        srv.platform.add_segment(f"s{i:03d}")
    ids = [int(s.id) for s in srv.client().segments.list(order_by="id", descending=True)]
    assert ids == list(range(150, 0, -1))


def test_segments_list_invalid_query_is_a_configuration_error(srv):
    with pytest.raises(ConfigurationError, match="invalid segment query"):
        srv.client().segments.list(order_by="colour")


def test_segments_get_accepts_int_id_and_maps_the_segment(srv):
    sid = srv.platform.add_segment("one", members=[{"email": "a@example.com"}])
    seg = srv.client().segments.get(sid)
    assert (seg.id, seg.name, seg.kind, seg.recipient_count) == (
        str(sid),
        "one",
        SegmentKind.static,
        1,
    )
    assert seg.created_at is not None
    assert seg.created_at.tzinfo is not None
    assert seg.raw["type"] == "list"


def test_segments_create_with_invalid_recipient_raises_before_any_request(srv):
    client = srv.client()
    with pytest.raises(InvalidRecipientError, match="#1"):
        client.segments.create("x", recipients=["a@example.com", "nope@"])
    with pytest.raises(InvalidRecipientError, match="email address"):
        client.segments.create("x", recipients=["+393331234567"])
    assert len(srv.log) == 0


def test_segments_create_with_recipients_and_rules_is_refused(srv):
    with pytest.raises(ConfigurationError, match="not both"):
        srv.client().segments.create("x", recipients=[], rules=[])


def test_segments_create_update_delete_round_trip(srv):
    client = srv.client()
    seg = client.segments.create("new", recipients=["a@example.com", "b@example.com"])
    assert seg.recipient_count == 2
    renamed = client.segments.update(seg.id, name="renamed")
    assert (renamed.name, renamed.recipient_count) == ("renamed", 2)
    client.segments.delete(seg.id)
    assert srv.platform.segments == {}


# ----------------------------------------------------------------------------- recipients


def test_recipients_add_reports_one_outcome_per_item_in_input_order(any_srv):
    sid = any_srv.platform.add_segment("s", members=[{"email": "old@example.com"}])
    client = any_srv.client()
    items = [
        "new@example.com",
        "not-an-email@",
        "NEW@Example.com",
        "+393331234567",
        {"email": "old@example.com"},
        {"email": "second@example.com", "first_name": "Sec"},
    ]
    result = client.recipients.add(sid, items)
    assert [(o.index, o.status) for o in result] == [
        (0, OutcomeStatus.added),
        (1, OutcomeStatus.rejected),
        (2, OutcomeStatus.unchanged),
        (3, OutcomeStatus.rejected),
        (4, OutcomeStatus.unchanged),
        (5, OutcomeStatus.added),
    ]
    assert [o.input for o in result] == items
    assert "not-an-email@" in (result.items[1].reason or "")
    assert result.items[2].reason == "duplicate of item 0"
    assert "email address" in (result.items[3].reason or "")
    assert result.items[4].reason == "already a member"
    assert result.items[5].recipient.first_name == "Sec"
    assert not result.ok
    assert result.summary() == "added 2, unchanged 2, rejected 2"
    assert any_srv.log.count("POST") == 1
    assert any_srv.platform.member_emails(sid) == [
        "new@example.com",
        "old@example.com",
        "second@example.com",
    ]


def test_recipients_add_with_nothing_valid_sends_no_request(srv):
    sid = srv.platform.add_segment("s")
    srv.log.clear()
    result = srv.client().recipients.add(sid, ["bad@", "+393331234567"])
    assert [o.status for o in result] == [OutcomeStatus.rejected] * 2
    assert len(srv.log) == 0


def test_recipients_remove_by_id_and_by_email(any_srv):
    sid = any_srv.platform.add_segment(
        "s",
        members=[
            {"email": "a@example.com"},
            {"email": "b@example.com"},
            {"email": "c@example.com"},
        ],
    )
    client = any_srv.client()
    ids = {r.email: r.id for r in client.recipients.list(sid)}
    result = client.recipients.remove(
        sid, [ids["a@example.com"], int(ids["b@example.com"]), "C@example.com", "z@example.com"]
    )
    assert [o.status for o in result] == [
        OutcomeStatus.removed,
        OutcomeStatus.removed,
        OutcomeStatus.removed,
        OutcomeStatus.unchanged,
    ]
    assert result.items[3].reason == "not a member"
    assert any_srv.platform.member_emails(sid) == []


def test_recipients_list_walks_member_pages(srv):
    members = [{"email": f"m{i:03d}@example.com"} for i in range(205)]
    sid = srv.platform.add_segment("big", members=members)
    emails = [r.email for r in srv.client().recipients.list(sid)]
    assert emails == [m["email"] for m in members]
    assert srv.log.count("GET", "members") == 3


# ----------------------------------------------------------------------------- sync


def _seed(srv, *emails):
    return srv.platform.add_segment("s", members=[{"email": e} for e in emails])


def test_sync_plans_and_applies_the_difference(any_srv):
    sid = _seed(any_srv, "a@example.com", "b@example.com")
    client = any_srv.client()
    result = client.recipients.sync(sid, ["b@example.com", "c@example.com", "bad@"])
    assert [r.email for r in result.plan.to_add] == ["c@example.com"]
    assert [r.email for r in result.plan.unchanged] == ["b@example.com"]
    assert [o.index for o in result.plan.rejected] == [2]
    assert not result.dry_run
    # "bad@" names no valid identity: it may have meant a@, whose removal is held (issue 12).
    assert result.plan.to_remove == []
    assert [h.recipient.email for h in result.held] == ["a@example.com"]
    assert any_srv.platform.member_emails(sid) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert result.counts()["added"] == 1
    assert result.counts()["held"] == 1
    clean = client.recipients.sync(sid, ["b@example.com", "c@example.com"])
    assert [r.email for r in clean.plan.to_remove] == ["a@example.com"]
    assert any_srv.platform.member_emails(sid) == ["b@example.com", "c@example.com"]
    assert clean.counts()["removed"] == 1


def test_sync_second_run_sends_no_writes(any_srv):
    sid = _seed(any_srv, "a@example.com")
    client = any_srv.client()
    desired = ["a@example.com", "b@example.com", "c@example.com"]
    client.recipients.sync(sid, desired)
    any_srv.log.clear()
    again = client.recipients.sync(sid, desired)
    assert any_srv.log.writes() == []
    assert again.plan.changes == 0
    assert again.ok
    assert again.summary() == "unchanged 3"


def test_sync_dry_run_sends_no_writes(srv):
    sid = _seed(srv, "a@example.com")
    srv.log.clear()
    result = srv.client().recipients.sync(sid, ["b@example.com"], dry_run=True)
    assert srv.log.writes() == []
    assert result.dry_run
    assert result.counts() == {"to_add": 1, "to_remove": 1, "unchanged": 0, "rejected": 0}
    assert result.summary().startswith("dry run: ")
    assert srv.platform.member_emails(sid) == ["a@example.com"]


def test_sync_without_remove_extra_keeps_members(srv):
    sid = _seed(srv, "a@example.com")
    srv.client().recipients.sync(sid, ["b@example.com"], remove_extra=False)
    assert srv.platform.member_emails(sid) == ["a@example.com", "b@example.com"]


def test_sync_reports_progress(srv):
    sid = _seed(srv, "a@example.com")
    seen = []
    srv.client().recipients.sync(
        sid, ["b@example.com"], progress=lambda phase, done, total: seen.append(phase)
    )
    assert {"reading", "adding", "removing"} <= set(seen)


def test_sync_of_dynamic_segment_is_unsupported(srv):
    sid = srv.platform.add_segment("r", rules=[{"field": "x", "op": "equals", "values": ["1"]}])
    srv.log.clear()
    with pytest.raises(UnsupportedOperationError, match="dynamic"):
        srv.client().recipients.sync(sid, ["a@example.com"])
    assert srv.log.writes() == []


# ----------------------------------------------------------------------------- copy


@pytest.fixture
def pair(make_server):
    """Two independent memory platforms on loopback sockets."""
    return make_server("socket"), make_server("socket")


def test_copy_segment_into_a_target_syncs_members(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment(
        "source", members=[{"email": "a@example.com"}, {"email": "b@example.com"}]
    )
    dst_id = dst_srv.platform.add_segment("target", members=[{"email": "b@example.com"}])
    result = copy_segment(
        src_srv.client(), str(src_id), dst_srv.client(), target_segment_id=str(dst_id)
    )
    assert dst_srv.platform.member_emails(dst_id) == ["a@example.com", "b@example.com"]
    assert result.segment_id == str(dst_id)
    assert not result.created
    assert [r.email for r in result.plan.to_add] == ["a@example.com"]
    assert result.ok


def test_copy_segment_rejects_members_without_the_target_identity(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment("source", members=[{"email": "a@example.com"}])
    # a member the source platform holds by phone only
    src_srv.platform.segments[src_id].members["phone-only"] = {"id": 99, "phone": "+393331234567"}
    dst_id = dst_srv.platform.add_segment("target")
    result = copy_segment(
        src_srv.client(), str(src_id), dst_srv.client(), target_segment_id=str(dst_id)
    )
    assert dst_srv.platform.member_emails(dst_id) == ["a@example.com"]
    (rejected,) = result.plan.rejected
    assert rejected.status is OutcomeStatus.rejected
    assert rejected.recipient.phone == "+393331234567"
    assert "email address" in (rejected.reason or "")
    assert not result.ok


def test_copy_segment_without_target_creates_one(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment("source", members=[{"email": "a@example.com"}])
    result = copy_segment(src_srv.client(), str(src_id), dst_srv.client(), name="copy")
    assert result.created
    (seg,) = dst_srv.platform.segments.values()
    assert seg.name == "copy"
    assert dst_srv.platform.member_emails(seg.id) == ["a@example.com"]


def test_copy_segment_dry_run_writes_nothing(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment("source", members=[{"email": "a@example.com"}])
    dst_id = dst_srv.platform.add_segment("target")
    dst_srv.log.clear()
    result = copy_segment(
        src_srv.client(),
        str(src_id),
        dst_srv.client(),
        target_segment_id=str(dst_id),
        dry_run=True,
    )
    assert result.dry_run
    assert dst_srv.log.writes() == []
    assert src_srv.log.writes() == []


def test_copy_segment_of_dynamic_source_is_materialised(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment(
        "rules", rules=[{"field": "x", "op": "equals", "values": ["1"]}]
    )
    result = copy_segment(src_srv.client(), str(src_id), dst_srv.client(), dry_run=True)
    assert result.materialized
    assert "dynamic" in result.notes[0]


def test_copy_into_dynamic_target_is_unsupported(pair):
    src_srv, dst_srv = pair
    src_id = src_srv.platform.add_segment("source")
    dst_id = dst_srv.platform.add_segment(
        "rules", rules=[{"field": "x", "op": "equals", "values": ["1"]}]
    )
    with pytest.raises(UnsupportedOperationError, match="dynamic"):
        copy_segment(src_srv.client(), str(src_id), dst_srv.client(), target_segment_id=str(dst_id))
