"""``example``: adapter for "Smoke Signals", an imaginary SMS platform.

Its API: ``X-Token`` header; ``GET lists?cursor=&limit=`` → ``{"lists": [...],
"next_cursor": str|null}``; ``GET lists/{id}``; ``GET lists/{id}/subscribers?cursor=``;
``POST lists/{id}/subscribers`` (form ``msisdn``, ``name``) → 201, a second POST of the same
number adds it twice (so a lost answer must be looked up, not re-sent);
``GET lists/{id}/subscribers/{msisdn}`` → 200 or 404; ``DELETE lists/{id}/subscribers/{msisdn}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from segmentkit import (
    ItemOutcome,
    NotFoundError,
    OutcomeStatus,
    Page,
    Provider,
    Recipient,
    Segment,
    SegmentKind,
    SegmentkitError,
    SegmentQuery,
)
from segmentkit.hookspecs import hookimpl

__all__ = ["ExampleProvider"]


class _WireList(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    title: str
    size: int = 0


class _WireSubscriber(BaseModel):
    model_config = ConfigDict(extra="ignore")
    msisdn: str
    name: str | None = None


class _WirePage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[dict[str, Any]] = Field(validation_alias="lists")
    next_cursor: str | None = None


class _WireSubscriberPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subscribers: list[dict[str, Any]]
    next_cursor: str | None = None


def _to_segment(wire: _WireList, raw: dict[str, Any]) -> Segment:
    return Segment(
        id=wire.id,
        provider="example",
        name=wire.title,
        kind=SegmentKind.static,
        provider_type="list",
        recipient_count=wire.size,
        raw=raw,
    )


def _to_recipient(wire: _WireSubscriber, raw: dict[str, Any]) -> Recipient:
    return Recipient(id=wire.msisdn, phone=wire.msisdn, name=wire.name, raw=raw)


class ExampleProvider(Provider):
    """Adapter for the Smoke Signals SMS platform."""

    name = "example"
    display_name = "Smoke Signals (example plugin)"
    channel = "sms"
    default_base_url = "https://api.smokesignals.invalid/v2/"
    fake = "segmentkit_example.fake:SmokeSignalsPlatform"
    secret_headers = frozenset({"x-token"})
    max_page_size = 50

    class Credentials(BaseModel):
        """``token``: the account token (``X-Token`` header)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        token: SecretStr

    def auth_headers(self) -> dict[str, str]:
        return {"X-Token": self.secret("token")}

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        params: dict[str, Any] = {"limit": self.max_page_size}
        if page:
            params["cursor"] = page
        body = self.request("GET", "lists", params=params)
        wire = self.parse(_WirePage, body, what="list page")
        segs = [_to_segment(self.parse(_WireList, x, what="list"), x) for x in wire.items]
        # The platform cannot filter: the neutral query is applied here.
        return Page(items=query.apply(segs), next_page=wire.next_cursor)

    def get_segment(self, segment_id: str) -> Segment:
        body = self.request("GET", f"lists/{segment_id}")
        return _to_segment(self.parse(_WireList, body, what="list"), body)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        params = {"cursor": page} if page else None
        body = self.request("GET", f"lists/{segment_id}/subscribers", params=params)
        wire = self.parse(_WireSubscriberPage, body, what="subscriber page")
        items = [
            _to_recipient(self.parse(_WireSubscriber, s, what="subscriber"), s)
            for s in wire.subscribers
        ]
        return Page(items=items, next_page=wire.next_cursor)

    def _is_member(self, segment_id: str, phone: str) -> bool:
        try:
            self.request("GET", f"lists/{segment_id}/subscribers/{phone}")
        except NotFoundError:
            return False
        return True

    def add_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        self.get_segment(segment_id)  # a missing list fails the whole call, once

        def add_one(pair: tuple[int, Recipient]) -> ItemOutcome:
            i, r = pair
            phone = r.phone or ""
            try:
                if self._is_member(segment_id, phone):
                    return ItemOutcome(
                        index=i, status=OutcomeStatus.unchanged, reason="already a member"
                    )
                # Not safe to repeat: if the answer is lost, look the number up first.
                self.write(
                    "POST",
                    f"lists/{segment_id}/subscribers",
                    data={"msisdn": phone, "name": r.display_name},
                    reconcile=lambda: True if self._is_member(segment_id, phone) else None,
                )
            except SegmentkitError as exc:
                return ItemOutcome(index=i, status=OutcomeStatus.failed, reason=str(exc))
            return ItemOutcome(index=i, status=OutcomeStatus.added)

        return self.map_concurrent(add_one, list(enumerate(recipients)))

    def remove_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        out = []
        for i, r in enumerate(recipients):
            phone = r.phone or r.id or ""
            try:
                self.request("DELETE", f"lists/{segment_id}/subscribers/{phone}", allow_empty=True)
            except NotFoundError:
                out.append(
                    ItemOutcome(index=i, status=OutcomeStatus.unchanged, reason="not a member")
                )
                continue
            except SegmentkitError as exc:
                out.append(ItemOutcome(index=i, status=OutcomeStatus.failed, reason=str(exc)))
                continue
            out.append(ItemOutcome(index=i, status=OutcomeStatus.removed))
        return out


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the Smoke Signals adapter with segmentkit."""
    register(ExampleProvider)
