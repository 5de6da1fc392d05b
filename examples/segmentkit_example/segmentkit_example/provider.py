"""``example``: adapter for "Smoke Signals", an imaginary SMS platform.

Its API: ``X-Token`` header; ``GET lists?cursor=&limit=`` → ``{"lists": [...],
"next_cursor": str|null}``; ``GET lists/{id}``; ``GET lists/{id}/subscribers?cursor=``;
``POST lists/{id}/subscribers`` (form ``msisdn``, ``name``) → 201, a second POST of the same
number adds it twice (so a lost answer must be looked up, not re-sent);
``GET lists/{id}/subscribers/{msisdn}`` → 200 or 404; ``DELETE lists/{id}/subscribers/{msisdn}``.

It is the adapter to copy: declarations (credentials, rate limit, paging, error rules),
segment reads, and the primitives of one membership shape
(:class:`~segmentkit.adapter.PerMemberStore`: ``add_member`` and ``remove_member``; the core
finds members through ``list_recipients``), every request through ``self.http``. No loops
over retries, no sleeping, no threads, no outcomes: the core does those (see
``ADDING_PROVIDERS.md``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from segmentkit import (
    AuthenticationError,
    NotFoundError,
    Page,
    Recipient,
    Segment,
    SegmentKind,
    SegmentQuery,
    ValidationError,
)
from segmentkit.adapter import PerMemberStore, Provider
from segmentkit.adapter.wire import WireModel
from segmentkit.hookspecs import hookimpl
from segmentkit.http import Cursor, ErrorRules, RateLimit

__all__ = ["ExampleProvider"]


class _WireList(WireModel):
    id: str
    title: str
    size: int = 0


class _WireSubscriber(WireModel):
    msisdn: str
    name: str | None = None


class _WirePage(WireModel):
    items: list[dict[str, Any]] = Field(validation_alias="lists")
    next_cursor: str | None = None


class _WireSubscriberPage(WireModel):
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


class ExampleProvider(Provider, PerMemberStore):
    """Adapter for the Smoke Signals SMS platform."""

    name = "example"
    display_name = "Smoke Signals (example plugin)"
    channel = "sms"
    default_base_url = "https://api.smokesignals.invalid/v2/"
    fake = "segmentkit_example.fake:SmokeSignalsPlatform"
    secret_headers = frozenset({"x-token"})
    max_page_size = 50
    # Declarations the core acts on: the session paces to the rate limit (and to the
    # X-RateLimit-* headers when the platform sends them), the paging style builds the query
    # and finds the next cursor, the error rules turn answers into segmentkit errors.
    rate_limit = RateLimit(100, 60.0)
    paging = Cursor(param="cursor", next="next_cursor", size="limit")
    errors = ErrorRules(
        titles={
            "bad token": AuthenticationError,
            "no list": NotFoundError,
            "no subscriber": NotFoundError,
        },
        status={422: ValidationError},
    )

    class Credentials(BaseModel):
        """``token``: the account token (``X-Token`` header)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        token: SecretStr

    def auth_headers(self) -> dict[str, str]:
        return {"X-Token": self.secret("token")}

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        body = self.http.get("lists", params=self.paging.params(page, self.max_page_size))
        wire = self.parse(_WirePage, body, what="list page")
        segs = self.parse_items(_WireList, wire.items, what="list", into=_to_segment)
        listed = self.paged("segments", segs, token=page, body=body, size=self.max_page_size)
        # The platform cannot filter: the neutral query is applied here.
        return Page(items=query.apply(listed.items), next_page=listed.next_page)

    def get_segment(self, segment_id: str) -> Segment:
        body = self.http.get(f"lists/{segment_id}")
        return _to_segment(self.parse(_WireList, body, what="list"), body)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        path = f"lists/{segment_id}/subscribers"
        body = self.http.get(path, params=self.paging.params(page, None))
        wire = self.parse(_WireSubscriberPage, body, what="subscriber page")
        items = self.parse_items(
            _WireSubscriber, wire.subscribers, what="subscriber", into=_to_recipient
        )
        return self.paged("recipients", items, token=page, body=body)

    # -- membership: one request per subscriber, so a PerMemberStore. Two primitives are all
    # an adapter writes (the engine finds members through list_recipients): it adds
    # concurrently, re-reads the list once per round when an answer was lost (a second POST
    # would store the number twice), removes every stored copy, and builds every outcome.

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        # A POST is not safe to repeat: sent once; a lost answer is looked up by the engine.
        self.http.post(
            f"lists/{segment_id}/subscribers",
            data={"msisdn": recipient.phone or "", "name": recipient.display_name},
        )

    def remove_member(self, segment_id: str, member_id: str) -> None:
        # A DELETE retried after a lost answer finds 404 when the first one was applied:
        # that is success (gone_ok); a 404 on the first try means already gone.
        self.http.delete(
            f"lists/{segment_id}/subscribers/{member_id}", allow_empty=True, gone_ok=True
        )


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the Smoke Signals adapter with segmentkit."""
    register(ExampleProvider)
