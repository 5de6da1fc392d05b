"""66text wire mapping: wire models, their mapping to neutral models, the settings form and
the error titles. Private to the adapter; comments cite ``shared/providers/API-SPEC.md``."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from segmentkit.adapter.query import QueryParams
from segmentkit.adapter.stores import kept_subset
from segmentkit.adapter.wire import (
    AS_FLAG,
    AS_LIST,
    AS_OBJECT,
    AS_TEXT,
    AS_UTC,
    NativeRule,
    WireModel,
    indexed_fields,
    phone_entry,
    phone_keys,
    profile_fields,
)
from segmentkit.errors import APIError, AuthenticationError, ValidationError
from segmentkit.models import Recipient, Rule, Segment, SegmentKind

from ._filters import RULES, platform_picks

#: Allowed ``results_per_page`` values (API-SPEC 1.5); anything else becomes 25.
PER_PAGE = (10, 25, 50, 100, 250, 500, 1000)
_TAGS = re.compile(r"<[^>]*>")
_ISO2 = re.compile(r"[A-Z]{2}")
#: The newer documented list filters and ordering (API-SPEC 1.6); v2.0.1 ignores them all.
QUERY = QueryParams(
    search="search",
    search_with={"search_by": "name"},
    type="type",
    dynamic_type="filter",
    dates={"created": "datetime", "updated": "last_datetime"},
    date_field="datetime_field",
    date_start="datetime_start",
    date_end="datetime_end",
    order={
        "id": "segment_id",
        "name": "name",
        "created_at": "datetime",
        "updated_at": "last_datetime",
        "recipient_count": "total_contacts",
    },
    order_by="order_by",
    order_type="order_type",
)
#: Exact English titles (API-SPEC 1.3); translated brands may differ, see error_from_response.
T_NO_BEARER = "The request is missing the Bearer Authentication header."
T_NO_ACCESS = "You do not have access to the API."
#: English titles → error class; missing fields are documented 400, sent as 401 (API-SPEC 1.3).
TITLES: dict[str, type[APIError]] = {
    T_NO_BEARER: AuthenticationError,
    T_NO_ACCESS: AuthenticationError,
    "You must fill all the required fields.": ValidationError,
}
#: Plan-limit titles (API-SPEC 1.3; "Your have" is the platform's own spelling).
QUOTA = r"^(?:Your have|You have) exceeded the limits|^You must delete"
UPDATE_BUG = (
    "the segment update failed with an HTML 500 and was not applied; the server build "
    "(66text v2.0.1) is known to fail on every segment update (API-SPEC 1.6). Change the "
    "segment in the platform's web app, or delete it and create it again"
)

# ---------------------------------------------------------------------------------- wire models

_DateTime = datetime  # the field named `datetime` below would shadow the type


class WireFilter(WireModel):
    key: str
    condition: str = "exact"
    value: Annotated[str, AS_TEXT] = ""


class WireSettings(WireModel):
    # Lists may come as null or as a PHP array with gaps (an object keyed by index).
    phone_numbers: Annotated[list[str | None], AS_LIST] = Field(default_factory=list)
    contacts_ids: Annotated[list[int], AS_LIST] = Field(default_factory=list)
    filters_custom_parameters: Annotated[list[WireFilter], AS_LIST] = Field(default_factory=list)
    filters_countries: list[str] | None = None
    filters_continents: list[str] | None = None

    def filters(self) -> list[tuple[str, str, str]]:
        """The custom-parameter filters as ``(key, condition, value)``."""
        return [(f.key, f.condition, f.value) for f in self.filters_custom_parameters]

    def lists(self) -> dict[str, list[str]]:
        """The non-empty code lists by form field (``lists`` of ``_filters.RULES``)."""
        lists = {"filters_countries": self.filters_countries}
        lists["filters_continents"] = self.filters_continents
        return {k: v for k, v in lists.items() if v}


class WireSegment(WireModel):
    id: int
    user_id: int | None = None
    name: str | None = None  # absent from the update answer (API-SPEC 1.6)
    settings: Annotated[WireSettings, AS_OBJECT] = Field(default_factory=WireSettings)
    type: str = "filter"
    # Sent as a JSON string by v2.0.1 lists (API-SPEC 1.6 note); lax mode coerces it.
    total_contacts: int | None = None
    last_datetime: Annotated[_DateTime | None, AS_UTC] = None
    datetime: Annotated[_DateTime | None, AS_UTC] = None


class WireContact(WireModel):
    id: int
    user_id: int | None = None
    name: str | None = None
    phone_number: str | None = None
    custom_parameters: Annotated[dict[str, Any], AS_OBJECT] = Field(default_factory=dict)
    continent_code: str | None = None
    country_code: str | None = None
    has_opted_out: Annotated[bool, AS_FLAG] = False


class WireId(WireModel):
    id: int


# ---------------------------------------------------------------------------------- mapping


def rules_of(settings: WireSettings) -> tuple[Rule, ...]:
    """A filter segment's stored settings as neutral rules (API-SPEC 1.6)."""
    rules = [RULES.from_native(NativeRule(*f)) for f in settings.filters()]
    return (*rules, *RULES.from_lists(settings.lists()))


def to_segment(wire: WireSegment, raw: dict[str, Any]) -> Segment:
    """One 66text segment → :class:`Segment` (API-SPEC 1.6)."""
    kind = wire.type
    # The settings as the platform sent them; a dump of the parsed ones only when absent.
    settings = raw["settings"] if "settings" in raw else wire.settings.model_dump()
    user_id = wire.user_id
    extra = (
        {"settings": settings} if user_id is None else {"settings": settings, "user_id": user_id}
    )
    # Values come out of the wire model already validated: no second validation.
    return Segment._trusted(
        id=str(wire.id),
        provider="notificator",
        name=wire.name or "",
        kind=SegmentKind.dynamic if kind == "filter" else SegmentKind.static,
        provider_type=kind,
        rules=rules_of(wire.settings) if kind == "filter" else (),
        recipient_count=_recipient_count(wire) if kind == "bulk" else wire.total_contacts,
        created_at=wire.datetime,
        updated_at=wire.last_datetime,
        extra=extra,
        raw=raw,
    )


def _recipient_count(wire: WireSegment) -> int | None:
    """``total_contacts``, except for a ``bulk`` segment that links no contact ids: v2.0.1
    counts linked contacts only and links none for bulk segments made through the API, so it
    reports 0 for a list of numbers (API-SPEC 1.11c); its members are its numbers."""
    s = wire.settings
    if wire.type == "bulk" and not s.contacts_ids and s.phone_numbers:
        return len(phone_keys(s.phone_numbers))
    return wire.total_contacts


def to_recipient(wire: WireContact, raw: dict[str, Any]) -> Recipient:
    """One contact → :class:`Recipient` (API-SPEC 1.7), identified by its contact id;
    ``email``/``first_name``/``last_name`` custom parameters fill those fields."""
    fields, params = profile_fields(wire.custom_parameters)
    phone, valid = phone_entry(wire.phone_number) if wire.phone_number else (None, False)
    country = (wire.country_code or "").upper()
    # email/phone come out of the normalisers above: no second validation of them.
    return Recipient._trusted(
        id=str(wire.id),
        phone=phone if valid else None,
        name=wire.name or None,
        country=country if _ISO2.fullmatch(country) else None,
        attributes=params,
        raw=raw,
        **fields,
    )


def platform_name(name: str) -> str:
    """The name as the platform stores it: tags stripped, trimmed, ≤ 256 chars (1.6)."""
    return _TAGS.sub("", name).strip()[:256]


def member_order(wire: WireSegment) -> tuple[Hashable, ...]:
    """A static segment's member keys in stored order: E.164 phones (bulk) or contact ids."""
    if wire.type == "bulk":
        return tuple(phone_keys(wire.settings.phone_numbers))
    return tuple(dict.fromkeys(wire.settings.contacts_ids))


def picks(settings: WireSettings, contact: WireContact) -> bool:
    """:func:`._filters.platform_picks` for a wire segment's settings and a wire contact."""
    codes = {"filters_countries": contact.country_code}
    codes["filters_continents"] = contact.continent_code
    return platform_picks(
        settings.filters(),
        settings.lists(),
        params=contact.custom_parameters,
        codes=codes,
        opted_out=contact.has_opted_out,
    )


# ---------------------------------------------------------------------------------- settings


@dataclass
class Desired:
    """What a segment's ``settings`` should hold; renders the form and checks a read-back."""

    type: Literal["bulk", "custom", "filter"]
    phones: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    filters: list[tuple[str, str, str]] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)  # code lists, by form field

    @classmethod
    def of(cls, wire: WireSegment) -> Desired:
        """The settings ``wire`` holds now, to re-send unchanged (API-SPEC 1.6)."""
        s = wire.settings
        if wire.type == "bulk":
            return cls("bulk", phones=list(dict.fromkeys(p for p in s.phone_numbers if p)))
        if wire.type == "custom":
            return cls("custom", ids=list(dict.fromkeys(s.contacts_ids)))
        return cls("filter", filters=s.filters(), lists=s.lists())

    def form(self, name: str) -> list[tuple[str, str]]:
        """Form fields for create/update: bodies are form data, never JSON (API-SPEC 1.1)."""
        out = [("name", name), ("type", self.type)]
        if self.type == "bulk":
            out.append(("phone_numbers", ",".join(self.phones)))
        elif self.type == "custom":
            out.append(("contacts_ids", ",".join(str(i) for i in self.ids)))
        else:
            names = ("key", "condition", "value")
            out += indexed_fields(self.filters, *(f"filters_custom_parameter_{n}" for n in names))
            out += [(f"{native}[]", c) for native, codes in self.lists.items() for c in codes]
        return out

    def kept_by(self, wire: WireSegment, before: WireSegment | None = None) -> bool:
        """Whether ``wire`` holds these settings (read back after a write over ``before``)."""
        if wire.type != self.type:
            return False
        s = wire.settings
        if self.type == "bulk":
            return set(phone_keys(s.phone_numbers)) == set(self.phones)
        if self.type == "custom":  # the platform drops unknown and opted-out ids (1.6)
            old = before.settings.contacts_ids if before is not None else None
            moved = before is not None and wire.last_datetime != before.last_datetime
            return kept_subset(s.contacts_ids, self.ids, old, touched=moved)
        as_sets = {k: set(v) for k, v in self.lists.items()}
        return s.filters() == self.filters and {k: set(v) for k, v in s.lists().items()} == as_sets
