"""allstech wire models and their mapping to segmentkit's models (API-SPEC 2.3): pure data,
no HTTP. The adapter (:mod:`segmentkit_allstech.provider`) parses answers into these models
and maps them with :func:`to_segment` and :func:`to_recipient`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from segmentkit.adapter.wire import RuleDialect, WireModel, string_list, unescape_html
from segmentkit.errors import InvalidRecipientError
from segmentkit.models import Operator, Recipient, Rule, Segment, SegmentKind, normalize_email

__all__ = [
    "RULES",
    "WireRecipient",
    "WireSegment",
    "WireSegments",
    "to_recipient",
    "to_segment",
]


class WireSegment(WireModel):
    id: int
    user_id: int | None = None
    contact_type_id: int | None = None
    segment_name: str
    # JSON arrays of strings (API-SPEC 2.3); null, JSON text or a bare scalar are accepted too.
    select_field: list[str] = Field(default_factory=list)
    select_operator: list[str] = Field(default_factory=list)
    value: list[str] = Field(default_factory=list)
    query_type: str | None = None
    deleted_at: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    segment_emails_count: int | None = None

    _lists = field_validator("select_field", "select_operator", "value", mode="before")(string_list)


class WireSegments(WireModel):
    segments: list[dict[str, Any]]


class WireRecipient(WireModel):
    id: int
    segment_id: int | None = None
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    address_line1: str | None = None


# ---------------------------------------------------------------------------- mapping

#: The conditions of segments built in the web UI (read only: segments are made there, API-SPEC
#: 2.4). 2.3 documents "is after" and "is between"; the rest is the SendGrid-style guess of
#: Unknowns 4. Others become Operator.other with the native operator kept.
RULES = RuleDialect(
    name="allstech",
    operators={
        Operator.equals: "is",
        Operator.not_equals: "is not",
        Operator.contains: "contains",
        Operator.not_contains: "does not contain",
        Operator.greater_than: "is greater than",
        Operator.less_than: "is less than",
        Operator.after: "is after",
        Operator.before: "is before",
        Operator.between: "is between",
    },
    reference="API-SPEC 2.3",
    fold=True,
)
_ALPHA2 = re.compile(r"^[A-Za-z]{2}$")


def _rules(wire: WireSegment) -> tuple[Rule, ...]:
    """The parallel arrays become rules; a between condition consumes two entries of
    ``value`` (API-SPEC 2.3, 2.5.8)."""
    return RULES.from_arrays(wire.select_field, wire.select_operator, wire.value)


def to_segment(wire: WireSegment, raw: dict[str, Any]) -> Segment:
    # Membership is the explicit email list of segment/email/list, so the segment is static;
    # the rules only record how it was built in the web UI (API-SPEC 2.3, 2.4).
    query_type = (wire.query_type or "").strip().lower()
    # Values come out of the wire model already validated: no second validation.
    return Segment._trusted(
        id=str(wire.id),
        provider="allstech",
        # Stored through htmlspecialchars (API-SPEC 2.7): shown as typed, raw keeps the rest.
        name=unescape_html(wire.segment_name) or "",
        kind=SegmentKind.static,
        rules=_rules(wire),
        match="any" if query_type in ("or", "any") else "all",
        recipient_count=wire.segment_emails_count,
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        extra={
            "contact_type_id": wire.contact_type_id,
            "user_id": wire.user_id,
            "query_type": wire.query_type,
            "deleted_at": wire.deleted_at,
        },
        raw=raw,
    )


def to_recipient(wire: WireRecipient, raw: dict[str, Any]) -> Recipient:
    attributes: dict[str, str] = {}
    email: str | None = None
    if wire.email:
        try:
            email = normalize_email(wire.email)
        except InvalidRecipientError:
            # The web UI may hold addresses our validator refuses; keep them visible.
            attributes["email"] = wire.email
    country: str | None = None
    if wire.country and _ALPHA2.match(wire.country.strip()):
        country = wire.country.strip().upper()
    elif wire.country:
        attributes["country"] = wire.country
    for key in ("state", "city", "address_line1"):
        value = getattr(wire, key)
        if value:
            attributes[key] = str(value)
    if wire.contact_id is not None:
        attributes["contact_id"] = str(wire.contact_id)
    # email comes out of normalize_email above: no second validation of it.
    return Recipient._trusted(
        id=str(wire.id),
        email=email,
        first_name=unescape_html(wire.first_name),
        last_name=unescape_html(wire.last_name),
        country=country,
        attributes=attributes,
        raw=raw,
    )
