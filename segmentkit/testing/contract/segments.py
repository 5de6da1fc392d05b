"""Contract topic: reading and writing segments."""

from __future__ import annotations

import math

import pytest

from segmentkit import Capability, Client, NotFoundError, SegmentKind, UnsupportedOperationError

from ..app import FakePlatform
from ..server import FakeServer
from .fixtures import Expectations, ProviderFixtures

__all__ = ["SegmentReadContract", "SegmentWriteContract"]


class SegmentReadContract(ProviderFixtures):
    """Listing walks every page once with the fewest requests; ``get`` finds seeded segments
    and raises ``NotFoundError`` for missing ones; listing and getting agree."""

    def test_list_returns_every_segment_once_with_fewest_requests(
        self, server: FakeServer, client: Client
    ) -> None:
        page_size = client.adapter.max_page_size
        wanted = (2 * page_size if page_size else 5) + self.extra_segments
        ids = set(server.platform.segment_ids())
        for i in range(wanted - len(ids)):
            ids.add(server.platform.seed_segment(f"contract segment {i}", []))
        server.log.clear()
        listed = [s.id for s in client.segments.list()]
        assert sorted(listed) == sorted(ids), "every seeded segment exactly once"
        pages = math.ceil(len(ids) / page_size) if page_size else 1
        assert server.log.count("GET") == pages, "one request per page, no more"

    def test_get_missing_segment_raises_not_found(self, client: Client) -> None:
        """Read-only; also runs live."""
        with pytest.raises(NotFoundError):
            client.segments.get("987654321")

    def test_get_returns_seeded_segment(self, platform: FakePlatform, client: Client) -> None:
        sid = platform.seed_segment("contract get", self.recipients(client.channel)[:2])
        seg = client.segments.get(sid)
        assert seg.id == sid
        assert seg.name == "contract get"
        assert seg.provider == self.provider
        assert seg.kind is SegmentKind.static
        assert seg.raw, "the provider's object is kept in raw"

    def test_list_and_get_agree(self, client: Client) -> None:
        """Read-only; also runs live."""
        for seg in client.segments.list():
            assert client.segments.get(seg.id).id == seg.id
            break


class SegmentWriteContract(ProviderFixtures):
    """Create → update → delete round-trip where the capabilities say so (or the update fails
    exactly as :class:`Expectations` says, changing nothing), else
    ``UnsupportedOperationError`` before any request."""

    def test_create_update_delete_round_trip_or_unsupported_before_request(
        self, server: FakeServer, client: Client, expectations: Expectations
    ) -> None:
        members = self.recipients(client.channel)[:2]
        for cap, call in (
            (
                Capability.create_segment,
                lambda: client.segments.create("contract created", recipients=members),
            ),
            (Capability.update_segment, lambda: client.segments.update("1", name="renamed")),
            (Capability.delete_segment, lambda: client.segments.delete("1")),
        ):
            if not self._has(client, cap):
                before = len(server.log)
                with pytest.raises(UnsupportedOperationError):
                    call()
                assert len(server.log) == before, f"{cap.value}: refused before any request"
        if not self._has(client, Capability.create_segment):
            return
        created = client.segments.create("contract created", recipients=members)
        assert created.name == "contract created"
        ident = client.channel
        ids = sorted(r.identity(ident) or "" for r in members)
        got = sorted(r.identity(ident) or "" for r in client.recipients.list(created.id))
        assert got == ids
        if self._has(client, Capability.update_segment):
            if expectations.update_fails_with is not None:
                with pytest.raises(
                    expectations.update_fails_with, match=expectations.update_fails_match
                ):
                    client.segments.update(created.id, name="contract renamed")
                assert client.segments.get(created.id).name == "contract created", "unchanged"
            else:
                renamed = client.segments.update(created.id, name="contract renamed")
                assert client.segments.get(created.id).name == "contract renamed" == renamed.name
            kept = sorted(r.identity(ident) or "" for r in client.recipients.list(created.id))
            assert kept == ids, "a rename (failed or not) keeps the members"
        if self._has(client, Capability.delete_segment):
            client.segments.delete(created.id)
            with pytest.raises(NotFoundError):
                client.segments.get(created.id)
