"""Wire models, mapping functions and the platform's own rules for the ``notificator``
adapter (66text). Private: the adapter in :mod:`.provider` is the public face. Sections of
``shared/providers/API-SPEC.md`` Part 1 are cited where a quirk is handled."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from segmentkit.adapter.wire import NativeRule, WireModel, json_list, php_object, utc_datetime
from segmentkit.errors import InvalidRecipientError
from segmentkit.models import (
    Operator,
    Recipient,
    Rule,
    Segment,
    SegmentKind,
    normalize_email,
    normalize_phone,
)

from ._filters import COUNTRY_FIELDS, RULES

# ---------------------------------------------------------------------------------- constants

#: Allowed ``results_per_page`` values (API-SPEC 1.5); anything else becomes 25.
_PER_PAGE = (10, 25, 50, 100, 250, 500, 1000)
_UTC_FORMAT = "%Y-%m-%d %H:%M:%S"
_TAGS = re.compile(r"<[^>]*>")
_PAGE_IN_LINK = re.compile(r"[?&]page=(\d+)")
_ORDER_FIELDS = {
    "id": "segment_id",
    "name": "name",
    "created_at": "datetime",
    "updated_at": "last_datetime",
    "recipient_count": "total_contacts",
}
#: Contact custom parameters that map to neutral recipient fields.
_PROFILE_KEYS = ("email", "first_name", "last_name")
#: Exact English titles (API-SPEC 1.3); translated brands may differ, see error_from_response.
_T_NO_BEARER = "The request is missing the Bearer Authentication header."
_T_NO_ACCESS = "You do not have access to the API."
_T_REQUIRED = "You must fill all the required fields."

_UPDATE_BUG = (
    "the segment update failed with an HTML 500 and was not applied; the server build "
    "(66text v2.0.1) is known to fail on every segment update (API-SPEC 1.6). Change the "
    "segment in the platform's web app, or delete it and create it again"
)


# ---------------------------------------------------------------------------------- wire models

_DateTime = datetime  # the field named `datetime` below would shadow the type


class _WireFilter(WireModel):
    key: str
    condition: str = "exact"
    value: str = ""

    @field_validator("value", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return "" if v is None else str(v) if isinstance(v, int | float) else v


class _WireSettings(WireModel):
    phone_numbers: list[str | None] = Field(default_factory=list)
    contacts_ids: list[int] = Field(default_factory=list)
    filters_custom_parameters: list[_WireFilter] = Field(default_factory=list)
    filters_countries: list[str] | None = None
    filters_continents: list[str] | None = None

    @field_validator("phone_numbers", "contacts_ids", "filters_custom_parameters", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        return json_list(v)  # null, or a PHP array with gaps (an object keyed by index)


class _WireSegment(WireModel):
    id: int
    user_id: int | None = None
    name: str | None = None  # absent from the update answer (API-SPEC 1.6)
    settings: _WireSettings = Field(default_factory=_WireSettings)
    type: str = "filter"
    # Sent as a JSON string by v2.0.1 lists (API-SPEC 1.6 note); lax mode coerces it.
    total_contacts: int | None = None
    last_datetime: _DateTime | None = None
    datetime: _DateTime | None = None

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, v: Any) -> Any:
        return php_object(v)

    @field_validator("last_datetime", "datetime", mode="before")
    @classmethod
    def _dt(cls, v: Any) -> Any:
        return utc_datetime(v)


class _WireContact(WireModel):
    id: int
    user_id: int | None = None
    name: str | None = None
    phone_number: str | None = None
    custom_parameters: dict[str, Any] = Field(default_factory=dict)
    continent_code: str | None = None
    country_code: str | None = None
    has_opted_out: bool = False

    @field_validator("custom_parameters", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        return php_object(v)

    @field_validator("has_opted_out", mode="before")
    @classmethod
    def _flag(cls, v: Any) -> Any:
        return False if v is None or v == "" else v


class _WireMeta(WireModel):
    # meta.page echoes the raw query value: "2" or 2 (API-SPEC 1.5).
    page: int | str | None = None
    total_pages: int | None = None
    total: int | None = None
    total_results: int | None = None  # what the source sends instead of `total` (1.5)


class _WireList(WireModel):
    data: list[dict[str, Any]]
    meta: _WireMeta = Field(default_factory=_WireMeta)
    links: dict[str, Any] = Field(default_factory=dict)

    @field_validator("links", "meta", mode="before")
    @classmethod
    def _obj(cls, v: Any) -> Any:
        return php_object(v)


class _WireId(WireModel):
    id: int


# ---------------------------------------------------------------------------------- mapping


def _phone_entry(phone: str) -> tuple[str, bool]:
    """(E.164, True) when libphonenumber accepts it, else (the number as stored, False)."""
    try:
        return normalize_phone(phone), True
    except InvalidRecipientError:
        return phone, False


def _phone_key(phone: str) -> str:
    """E.164 when libphonenumber accepts it, else the platform's digits as stored."""
    return _phone_entry(phone)[0]


def _rules_of(settings: _WireSettings) -> tuple[Rule, ...]:
    rules = [
        RULES.from_native(NativeRule(f.key, f.condition, f.value))
        for f in settings.filters_custom_parameters
    ]
    for fname, codes in (
        ("country", settings.filters_countries),
        ("continent", settings.filters_continents),
    ):
        if codes:
            rules.append(
                Rule(
                    field=fname,
                    operator=Operator.in_,
                    values=tuple(codes),
                    native_operator=COUNTRY_FIELDS[fname],
                )
            )
    return tuple(rules)


def _to_segment(wire: _WireSegment, raw: dict[str, Any]) -> Segment:
    """One 66text segment → :class:`Segment` (API-SPEC 1.6)."""
    dynamic = wire.type == "filter"
    # The settings as the platform sent them; a dump of the parsed ones only when absent.
    settings = raw["settings"] if "settings" in raw else wire.settings.model_dump()
    extra: dict[str, Any] = {"settings": settings}
    if wire.user_id is not None:
        extra["user_id"] = wire.user_id
    # Values come out of the wire model already validated: no second validation.
    return Segment._trusted(
        id=str(wire.id),
        provider="notificator",
        name=wire.name or "",
        kind=SegmentKind.dynamic if dynamic else SegmentKind.static,
        provider_type=wire.type,
        rules=_rules_of(wire.settings) if dynamic else (),
        match="all",
        recipient_count=_recipient_count(wire),
        created_at=wire.datetime,
        updated_at=wire.last_datetime,
        extra=extra,
        raw=raw,
    )


def _recipient_count(wire: _WireSegment) -> int | None:
    """``total_contacts``, except for a ``bulk`` segment that links no contact ids: v2.0.1
    counts linked contacts only and stores none for bulk segments made through the API, so
    it reports 0 for a list of numbers (API-SPEC 1.11c); its members are its numbers."""
    s = wire.settings
    if wire.type == "bulk" and not s.contacts_ids and s.phone_numbers:
        return len({_phone_key(p) for p in s.phone_numbers if p})
    return wire.total_contacts


def _to_recipient(wire: _WireContact, raw: dict[str, Any]) -> Recipient:
    """One contact → :class:`Recipient` (API-SPEC 1.7), identified by its contact id;
    ``email``/``first_name``/``last_name`` custom parameters fill those fields."""
    params = {str(k): "" if v is None else str(v) for k, v in wire.custom_parameters.items()}
    fields: dict[str, Any] = {}
    for key in _PROFILE_KEYS:
        value = params.get(key, "").strip()
        if not value:
            continue
        if key == "email":
            try:
                value = normalize_email(value)
            except InvalidRecipientError:
                continue  # not an email: stays an attribute
        fields[key] = value
        params.pop(key)
    phone: str | None = None
    if wire.phone_number:
        try:
            phone = normalize_phone(wire.phone_number)
        except InvalidRecipientError:
            phone = None
    country = (wire.country_code or "").upper()
    # email/phone come out of the normalisers above: no second validation of them.
    return Recipient._trusted(
        id=str(wire.id),
        phone=phone,
        name=wire.name or None,
        country=country if re.fullmatch(r"[A-Z]{2}", country) else None,
        attributes=params,
        raw=raw,
        **fields,
    )


def _platform_name(name: str) -> str:
    """The name as the platform stores it: tags stripped, trimmed, ≤ 256 chars (1.6)."""
    return _TAGS.sub("", name).strip()[:256]


# ---------------------------------------------------------------------------------- desired state


@dataclass
class _Desired:
    """What a segment's ``settings`` should hold; renders the form and checks a read-back."""

    type: Literal["bulk", "custom", "filter"]
    phones: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    filters: list[tuple[str, str, str]] = field(default_factory=list)
    countries: list[str] | None = None
    continents: list[str] | None = None

    @classmethod
    def of(cls, wire: _WireSegment) -> _Desired:
        """The settings ``wire`` holds now, to re-send unchanged (API-SPEC 1.6)."""
        s = wire.settings
        if wire.type == "bulk":
            phones = list(dict.fromkeys(p for p in s.phone_numbers if p))
            return cls("bulk", phones=phones)
        if wire.type == "custom":
            return cls("custom", ids=list(dict.fromkeys(s.contacts_ids)))
        return cls(
            "filter",
            filters=[(f.key, f.condition, f.value) for f in s.filters_custom_parameters],
            countries=s.filters_countries,
            continents=s.filters_continents,
        )

    def form(self, name: str) -> list[tuple[str, str]]:
        """Form fields for create/update: bodies are form data, never JSON (API-SPEC 1.1)."""
        out = [("name", name), ("type", self.type)]
        if self.type == "bulk":
            out.append(("phone_numbers", ",".join(self.phones)))
        elif self.type == "custom":
            out.append(("contacts_ids", ",".join(str(i) for i in self.ids)))
        else:
            for i, (key, cond, value) in enumerate(self.filters):
                out += [
                    (f"filters_custom_parameter_key[{i}]", key),
                    (f"filters_custom_parameter_condition[{i}]", cond),
                    (f"filters_custom_parameter_value[{i}]", value),
                ]
            out += [("filters_countries[]", c) for c in self.countries or ()]
            out += [("filters_continents[]", c) for c in self.continents or ()]
        return out

    def kept_by(self, wire: _WireSegment, before: _WireSegment | None = None) -> bool:
        """Whether ``wire`` holds these settings. For ``custom`` the platform drops unknown
        and opted-out ids, so a subset counts when the stored ids visibly changed."""
        if wire.type != self.type:
            return False
        s = wire.settings
        if self.type == "bulk":
            return {_phone_key(p) for p in s.phone_numbers if p} == set(self.phones)
        if self.type == "custom":
            stored, sent = set(s.contacts_ids), set(self.ids)
            if stored == sent:
                return True
            changed = before is None or (
                stored != set(before.settings.contacts_ids)
                or wire.last_datetime != before.last_datetime
            )
            return stored <= sent and changed
        return (
            [(f.key, f.condition, f.value) for f in s.filters_custom_parameters] == self.filters
            and set(s.filters_countries or ()) == set(self.countries or ())
            and set(s.filters_continents or ()) == set(self.continents or ())
        )


@dataclass(eq=False)
class _Cursor:
    """Where a recipients listing stands (opaque ``next_page`` token)."""

    kind: str
    page: int
    serial: int
    phones: list[str] = field(default_factory=list)  # bulk: members in order
    want_ids: set[int] = field(default_factory=set)
    want_phones: set[str] = field(default_factory=set)
    valid: set[str] = field(default_factory=set)  # bulk: members normalize_phone accepted
    settings: _WireSettings | None = None
    by_id: bool = False
    total: int | None = None

    def __repr__(self) -> str:
        return f"<notificator cursor {self.serial} {self.kind} page={self.page} by_id={self.by_id}>"


_serials = itertools.count(1)


@dataclass
class _Listing:
    items: list[dict[str, Any]]
    page: int
    total_pages: int | None
    total: int | None
    next_page: int | None
