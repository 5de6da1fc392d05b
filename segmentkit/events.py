"""Typed observability events, passed to the ``segmentkit_event`` hook and to ``on_event``
callbacks. URLs and headers in events are already redacted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "Event",
    "PageFetched",
    "RateLimitWait",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
]


@dataclass(frozen=True)
class Event:
    """Base of every event; ``provider`` is the adapter's name."""

    kind: ClassVar[str] = "event"
    provider: str


@dataclass(frozen=True)
class RequestSent(Event):
    """A request is about to go on the wire (``attempt`` starts at 1)."""

    kind: ClassVar[str] = "request_sent"
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class ResponseReceived(Event):
    """A response arrived (any status). ``elapsed`` is in seconds."""

    kind: ClassVar[str] = "response_received"
    method: str
    url: str
    status_code: int
    elapsed: float
    attempt: int = 1


@dataclass(frozen=True)
class RetryScheduled(Event):
    """A failed attempt will be retried after ``delay`` seconds; ``reason`` says why."""

    kind: ClassVar[str] = "retry_scheduled"
    method: str
    url: str
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class RateLimitWait(Event):
    """Client-side pacing is holding a request for ``delay`` seconds to stay under the
    platform's advertised limit."""

    kind: ClassVar[str] = "rate_limit_wait"
    delay: float
    limit: int | None = None
    remaining: int | None = None


@dataclass(frozen=True)
class PageFetched(Event):
    """One page of a listing was fetched."""

    kind: ClassVar[str] = "page_fetched"
    resource: str
    page: int | None
    items: int
    total_pages: int | None = None
