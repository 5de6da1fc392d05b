"""``memory``: the reference adapter, for a clean JSON platform whose state lives in memory
(:class:`segmentkit.testing.memory_fake.MemoryPlatform`).

It exercises every part of the adapter contract with no provider quirks, so the core and the
contract suite are tested without the real adapters, and app developers can use
``memory`` in their own tests. It has the shape of every adapter — declarations, segment
primitives and one membership shape, here a :class:`~segmentkit.adapter.BatchStore` — and is
the reference for batch endpoints; the adapter to copy is ``examples/segmentkit_example``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from typing_extensions import Unpack

from ..adapter import BatchStore, ItemResult, Provider, SegmentChange, SegmentDraft
from ..adapter.wire import WireModel
from ..hookspecs import hookimpl
from ..http import PageNumber
from ..models import Operator, Page, Recipient, Rule, Segment, SegmentKind, SegmentQuery

__all__ = ["MemoryProvider"]


class _WireRule(WireModel):
    field: str
    op: str
    values: list[str] = Field(default_factory=list)


class _WireSegment(WireModel):
    id: int
    name: str
    type: Literal["list", "rules"]
    rules: list[_WireRule] = Field(default_factory=list)
    match: Literal["all", "any"] = "all"
    member_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class _WireMember(WireModel):
    id: int
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class _WireList(WireModel):
    items: list[dict[str, Any]]
    page: int
    total_pages: int
    total: int


_OPS = {op.value: op for op in Operator}


def _to_segment(wire: _WireSegment, raw: dict[str, Any]) -> Segment:
    return Segment(
        id=str(wire.id),
        provider="memory",
        name=wire.name,
        kind=SegmentKind.static if wire.type == "list" else SegmentKind.dynamic,
        provider_type=wire.type,
        rules=tuple(
            Rule(
                field=r.field,
                operator=_OPS.get(r.op, Operator.other),
                values=tuple(r.values),
                native_operator=r.op,
            )
            for r in wire.rules
        ),
        match=wire.match,
        recipient_count=wire.member_count,
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        raw=raw,
    )


def _to_recipient(wire: _WireMember, raw: dict[str, Any]) -> Recipient:
    return Recipient(
        id=str(wire.id),
        email=wire.email,
        phone=wire.phone,
        first_name=wire.first_name,
        last_name=wire.last_name,
        country=wire.country,
        attributes={k: str(v) for k, v in wire.attributes.items()},
        raw=raw,
    )


def _rule(r: Rule) -> dict[str, Any]:
    return {"field": r.field, "op": r.native_operator or r.operator.value, "values": list(r.values)}


def _payload(change: Mapping[str, Any]) -> dict[str, Any]:
    """A create or update body: only what is not ``None`` (a PATCH keeps everything else)."""
    payload = {k: change[k] for k in ("name", "match") if change.get(k) is not None}
    if change.get("rules") is not None:
        payload["rules"] = [_rule(r) for r in change["rules"]]
    if change.get("recipients") is not None:
        payload["members"] = [_member(r) for r in change["recipients"]]
    return payload


def _member(r: Recipient) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "email": r.email,
            "phone": r.phone,
            "first_name": r.first_name,
            "last_name": r.last_name,
            "country": r.country,
            "attributes": r.attributes,
        }.items()
        if v
    }


class MemoryProvider(Provider, BatchStore):
    """Reference adapter for the in-memory JSON platform used in tests."""

    name = "memory"
    display_name = "In-memory reference platform"
    channel = "email"
    default_base_url = "https://memory.invalid/v1/"
    fake = "segmentkit.testing.memory_fake:MemoryPlatform"
    secret_headers = frozenset({"x-api-key"})
    max_page_size = 100
    max_batch = 100
    paging = PageNumber(page="page", size="per_page")

    class Credentials(BaseModel):
        """``api_key``: the account key (``X-Api-Key`` header)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        api_key: SecretStr

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.secret("api_key")}

    def _page(
        self, path: str, page: Any, per_page: int, params: dict[str, Any] | None = None
    ) -> tuple[_WireList, int]:
        number = int(page or 1)
        body = self.http.get(path, params={**(params or {}), **self.paging.params(page, per_page)})
        return self.parse(_WireList, body, what="list"), number

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        params = {"q": query.search} if query.search else {}
        listing, number = self._page("segments", page, query.page_size or 100, params)
        segs = [_to_segment(self.parse(_WireSegment, s, what="segment"), s) for s in listing.items]
        self.page_fetched("segments", number, len(segs), listing.total_pages)
        return Page(
            items=query.apply(segs),
            page=number,
            total_pages=listing.total_pages,
            total=listing.total,
            next_page=number + 1 if number < listing.total_pages else None,
        )

    def get_segment(self, segment_id: str) -> Segment:
        body = self.http.get(f"segments/{segment_id}")
        return _to_segment(self.parse(_WireSegment, body, what="segment"), body)

    def create_segment(self, **draft: Unpack[SegmentDraft]) -> Segment:
        # The platform accepts an Idempotency-Key, so a create whose answer was lost is
        # re-sent safely: the platform returns the segment it already made.
        body = self.http.post(
            "segments",
            json=_payload(draft),
            idempotent=True,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        return _to_segment(self.parse(_WireSegment, body, what="segment"), body)

    def update_segment(self, segment_id: str, **change: Unpack[SegmentChange]) -> Segment:
        # PATCH changes only the given fields, so it is safe to repeat.
        body = self.http.request(
            "PATCH", f"segments/{segment_id}", json=_payload(change), idempotent=True
        )
        return _to_segment(self.parse(_WireSegment, body, what="segment"), body)

    def delete_segment(self, segment_id: str) -> None:
        self.http.delete(f"segments/{segment_id}", allow_empty=True, gone_ok=True)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        listing, number = self._page(f"segments/{segment_id}/members", page, 100)
        items = [_to_recipient(self.parse(_WireMember, m, what="member"), m) for m in listing.items]
        self.page_fetched("members", number, len(items), listing.total_pages)
        return Page(
            items=items,
            page=number,
            total_pages=listing.total_pages,
            total=listing.total,
            next_page=number + 1 if number < listing.total_pages else None,
        )

    # -- membership primitives: idempotent batch endpoints (a BatchStore)

    def add_batch(self, segment_id: str, recipients: Sequence[Recipient]) -> Sequence[ItemResult]:
        # Members are upserted by email, so re-sending the batch cannot duplicate anyone, and
        # the Idempotency-Key makes a re-sent batch answer with the original per-item results.
        body = self.http.request(
            "POST",
            f"segments/{segment_id}/members",
            json={"members": [_member(r) for r in recipients]},
            idempotent=True,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        return [
            ItemResult("unchanged", "already a member")
            if res.get("status") == "exists"
            else ItemResult("added")
            for res in _results(body, len(recipients), "added")
        ]

    def remove_batch(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemResult]:
        body = self.http.request(
            "POST",
            f"segments/{segment_id}/members/delete",
            idempotent=True,
            json={"members": [{"id": r.id, "email": r.email} for r in recipients]},
        )
        return [
            ItemResult("removed")
            if res.get("status") == "removed"
            else ItemResult("unchanged", "not a member")
            for res in _results(body, len(recipients), "removed")
        ]


def _results(body: Any, n: int, default: str) -> list[dict[str, Any]]:
    """The per-item results of a batch answer (the platform's own; a short or missing list
    means every item got the default)."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != n:
        return [{"status": default}] * n
    return [r if isinstance(r, dict) else {} for r in results]


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the reference adapter."""
    register(MemoryProvider)
