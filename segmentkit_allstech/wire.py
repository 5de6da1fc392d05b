"""allstech wire models and their mapping to segmentkit's models (API-SPEC 2.3): pure data,
no HTTP. The adapter (:mod:`segmentkit_allstech.provider`) parses answers into these models
and maps them with :func:`to_segment` and :func:`to_recipient`."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from segmentkit.errors import InvalidRecipientError
from segmentkit.models import Operator, Recipient, Rule, Segment, SegmentKind, normalize_email

__all__ = [
    "WireRecipient",
    "WireRecipients",
    "WireSegment",
    "WireSegments",
    "to_recipient",
    "to_segment",
]


# ---------------------------------------------------------------------------- wire models


def _string_list(value: Any) -> Any:
    """``select_field``/``select_operator``/``value`` are JSON arrays of strings (API-SPEC
    2.3); accept null, a JSON-encoded array in a string, or a bare scalar as well."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value]
        value = decoded if isinstance(decoded, list) else [value]
    if isinstance(value, list):
        return ["" if v is None else str(v) for v in value]
    return [str(value)]


class WireSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    user_id: int | None = None
    contact_type_id: int | None = None
    segment_name: str
    select_field: list[str] = Field(default_factory=list)
    select_operator: list[str] = Field(default_factory=list)
    value: list[str] = Field(default_factory=list)
    query_type: str | None = None
    deleted_at: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    segment_emails_count: int | None = None

    _lists = field_validator("select_field", "select_operator", "value", mode="before")(
        _string_list
    )


class WireSegments(BaseModel):
    model_config = ConfigDict(extra="ignore")
    segments: list[dict[str, Any]]


class WireRecipient(BaseModel):
    model_config = ConfigDict(extra="ignore")
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


class WireRecipients(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contactEmails: list[dict[str, Any]]  # noqa: N815 - the platform's key


# ---------------------------------------------------------------------------- mapping

# API-SPEC 2.3 documents "is after" and "is between"; the rest is the SendGrid-style guess of
# Unknowns 4. Anything else becomes Operator.other with the native operator kept.
_OPERATORS: dict[str, Operator] = {
    "is": Operator.equals,
    "is not": Operator.not_equals,
    "contains": Operator.contains,
    "does not contain": Operator.not_contains,
    "is greater than": Operator.greater_than,
    "is less than": Operator.less_than,
    "is after": Operator.after,
    "is before": Operator.before,
    "is between": Operator.between,
}
_SPACES = re.compile(r"\s+")
_ALPHA2 = re.compile(r"^[A-Za-z]{2}$")


def _rules(wire: WireSegment) -> tuple[Rule, ...]:
    """The parallel arrays become rules; a between condition consumes two entries of
    ``value`` (API-SPEC 2.3, 2.5.8)."""
    rules: list[Rule] = []
    values = wire.value
    pos = 0
    for i, field_id in enumerate(wire.select_field):
        native = wire.select_operator[i] if i < len(wire.select_operator) else ""
        op = _OPERATORS.get(_SPACES.sub(" ", native.strip().lower()), Operator.other)
        take = 2 if op is Operator.between else 1
        taken = values[pos : pos + take]
        pos += take
        if op is Operator.between and len(taken) != 2:
            op = Operator.other  # a malformed between keeps what it had, natively
        rules.append(
            Rule(
                field=field_id or "?",
                operator=op,
                values=tuple(taken),
                native_operator=native or "?",
            )
        )
    return tuple(rules)


def _shown(text: str | None) -> str | None:
    """The platform HTML-cleans what it stores (tags stripped, then ``htmlspecialchars``,
    API-SPEC 2.7): ``Smith & Co`` is listed back as ``Smith &amp; Co``. Names are shown as
    they were typed; ``raw`` keeps the stored text."""
    return html.unescape(text) if text and "&" in text else text


def to_segment(wire: WireSegment, raw: dict[str, Any]) -> Segment:
    # Membership is the explicit email list of segment/email/list, so the segment is static;
    # the rules only record how it was built in the web UI (API-SPEC 2.3, 2.4).
    query_type = (wire.query_type or "").strip().lower()
    # Values come out of the wire model already validated: no second validation.
    return Segment._trusted(
        id=str(wire.id),
        provider="allstech",
        name=html.unescape(wire.segment_name),
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
        first_name=_shown(wire.first_name),
        last_name=_shown(wire.last_name),
        country=country,
        attributes=attributes,
        raw=raw,
    )
