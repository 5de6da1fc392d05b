"""State of the 66text fake: accounts, contacts, segments, the unique phone index, segment
settings and the platform's own filter semantics (API-SPEC 1.6, 1.7, 1.11c).

Nothing here knows about HTTP (no werkzeug): :mod:`._api` turns requests into calls on
:class:`PlatformState`. The filter semantics are the fake's own — an oracle must not import
the adapter code it judges.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import phonenumbers

__all__ = [
    "CONDITIONS",
    "CONTINENTS",
    "Account",
    "Contact",
    "Form",
    "PlatformState",
    "Segment",
    "condition_matches",
    "country_of",
    "get_phone_number",
    "utc_now",
]

#: ISO 3166 alpha-2 → continent code (the subset the fake needs; API-SPEC 1.6 filters).
CONTINENTS: dict[str, str] = {
    code: continent
    for continent, codes in {
        "EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS "
        "IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
        "AS": "AE AF AM AZ BD BH BN BT CN GE HK ID IL IN IQ IR JO JP KG KH KP KR KW KZ LA LB LK "
        "MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
        "AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS "
        "LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT "
        "ZA ZM ZW",
        "NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ "
        "MS MX NI PA PM PR SV SX TC TT US VC VG VI",
        "SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
        "OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
        "AN": "AQ",
    }.items()
    for code in codes.split()
}
COUNTRY_CODES = frozenset(CONTINENTS) | frozenset(phonenumbers.SUPPORTED_REGIONS)
CONTINENT_CODES = frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})

CONDITIONS = frozenset(
    {
        "exact",
        "not_exact",
        "contains",
        "not_contains",
        "starts_with",
        "not_starts_with",
        "ends_with",
        "not_ends_with",
        "bigger_than",
        "lower_than",
    }
)
TAGS = re.compile(r"<[^>]*>")


class Form(Protocol):
    """The request fields the state reads (a werkzeug ``MultiDict`` fits)."""

    def get(self, key: str, default: str) -> str: ...
    def getlist(self, key: str) -> list[str]: ...
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __getitem__(self, key: str) -> str: ...


def utc_now() -> str:
    """Now in UTC as ``Y-m-d H:i:s`` (API-SPEC 1.1)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def get_phone_number(raw: str | None) -> str | None:
    """The platform's normalisation (API-SPEC 1.6 ``get_phone_number``): keep digits and
    ``+``, force one leading ``+``, require ``^\\+\\d{1,15}$``; else ``None``."""
    if raw is None:
        return None
    digits = re.sub(r"[^\d+]", "", raw.strip()).lstrip("+").replace("+", "")
    number = "+" + digits
    return number if re.fullmatch(r"\+\d{1,15}", number) else None


@functools.lru_cache(maxsize=1 << 18)
def country_of(phone: str) -> str | None:
    """ISO country of an E.164 number (libphonenumber, as the platform does)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != "ZZ" else None


def _numeric(value: Any) -> float:
    # bigger_than / lower_than: a non-numeric value counts as 0 (API-SPEC 1.6).
    try:
        number = float(str(value).strip())
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def condition_matches(condition: str, stored: str, wanted: str) -> bool:
    """One custom-parameter condition as the real server evaluates it: **case-sensitive**
    (``JSON_UNQUOTE`` yields a binary collation, API-SPEC 1.11c — ``city exact roma`` does not
    match ``Roma``); numeric conditions treat non-numbers as 0 (API-SPEC 1.6); an unknown
    condition is ``exact``."""
    if condition == "bigger_than":
        return _numeric(stored) > _numeric(wanted)
    if condition == "lower_than":
        return _numeric(stored) < _numeric(wanted)
    s, w = stored, wanted
    result = {
        "exact": s == w,
        "not_exact": s != w,
        "contains": w in s,
        "not_contains": w not in s,
        "starts_with": s.startswith(w),
        "not_starts_with": not s.startswith(w),
        "ends_with": s.endswith(w),
        "not_ends_with": not s.endswith(w),
    }
    return result.get(condition, s == w)


@dataclass
class Account:
    """One platform user with an API key. ``default_results_per_page`` is the account's
    page-size preference (100 for a newly registered account, API-SPEC 1.11c)."""

    user_id: int
    api_key: str = field(repr=False)
    segments_limit: int = -1
    contacts_limit: int = -1
    is_admin: bool = False
    active: bool = True
    default_results_per_page: int = 25


@dataclass
class Contact:
    """A stored contact (API-SPEC 1.7)."""

    id: int
    user_id: int
    phone_number: str
    name: str = ""
    custom_parameters: dict[str, str] = field(default_factory=dict)
    has_opted_out: bool = False
    datetime: str = field(default_factory=utc_now)
    last_datetime: str | None = None
    #: The country the server's libphonenumber gives, when it differs from the installed
    #: ``phonenumbers`` metadata (e.g. +447911123456: GB with 8.13.55, GG with 9.0).
    country_override: str | None = None

    @property
    def country_code(self) -> str | None:
        if self.country_override is not None:
            return self.country_override
        return country_of(self.phone_number)

    @property
    def continent_code(self) -> str | None:
        country = self.country_code
        return CONTINENTS.get(country) if country else None

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "phone_number": self.phone_number,
            # PHP encodes an empty array as [] (not {}), API-SPEC 1.11c.
            "custom_parameters": dict(self.custom_parameters) or [],
            "continent_code": self.continent_code,
            "country_code": self.country_code,
            "has_opted_out": self.has_opted_out,
            "total_sent_sms": 0,
            "total_pending_sms": 0,
            "total_failed_sms": 0,
            "total_received_sms": 0,
            "last_sent_datetime": None,
            "last_received_datetime": None,
            "last_datetime": self.last_datetime,
            "datetime": self.datetime,
        }


@dataclass
class Segment:
    """A stored segment (API-SPEC 1.6)."""

    id: int
    user_id: int
    name: str
    type: str
    settings: dict[str, Any]
    total_contacts: int = 0
    datetime: str = field(default_factory=utc_now)
    last_datetime: str | None = None

    def wire(self, *, total_as_string: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "settings": self.settings,
            "type": self.type,
            "total_contacts": str(self.total_contacts) if total_as_string else self.total_contacts,
            "last_datetime": self.last_datetime,
            "datetime": self.datetime,
        }


class PlatformState:
    """Accounts, contacts (with the global UNIQUE phone index) and segments of one fake.

    ``api_bulk_links_contacts=False`` models v2.0.1 (API-SPEC 1.11c): a bulk segment created
    through the API keeps ``contacts_ids: []`` and ``total_contacts`` 0, and unknown numbers are
    *not* created as contacts (the helper uses the null session user). ``True`` is the
    documented behaviour (unknown numbers become contacts; ids of known, not opted-out ones).
    """

    def __init__(
        self,
        *,
        api_bulk_links_contacts: bool = True,
        country_overrides: dict[str, str] | None = None,
    ) -> None:
        self.api_bulk_links_contacts = api_bulk_links_contacts
        #: phone → country code, where the server's phone metadata differs from ours.
        self.country_overrides: dict[str, str] = dict(country_overrides or {})
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[int, Contact] = {}
        # phone → contact id: the UNIQUE index on phone_number (API-SPEC 1.7, 1.11c).
        self._phone_owner: dict[str, int] = {}
        self.segments: dict[int, Segment] = {}
        self._next_user = 1
        self._next_contact = 1
        self._next_segment = 1

    # -- contacts

    def insert_contact(
        self,
        user_id: int,
        number: str,
        name: str,
        params: dict[str, str],
        *,
        opted_out: bool = False,
        datetime: str | None = None,
    ) -> int:
        """Insert a contact; 0 when the number exists (the UNIQUE index refuses it silently,
        observed: 201 with ``id: 0``, API-SPEC 1.11c)."""
        if number in self._phone_owner:
            return 0
        contact = Contact(
            id=self._next_contact,
            user_id=user_id,
            phone_number=number,
            name=name,
            custom_parameters=params,
            has_opted_out=opted_out,
            datetime=datetime or utc_now(),
            country_override=self.country_overrides.get(number),
        )
        self._next_contact += 1
        self.contacts[contact.id] = contact
        self._phone_owner[number] = contact.id
        return contact.id

    def contact_id_of(self, phone: str) -> int | None:
        """The id of the contact holding ``phone`` (any account), if any."""
        return self._phone_owner.get(phone)

    def own_contact(self, account: Account, cid: str) -> Contact | None:
        """``account``'s contact with path id ``cid`` (cast like PHP ``(int)``)."""
        contact = self.contacts.get(int(cid)) if cid.isdigit() else None
        return contact if contact is not None and contact.user_id == account.user_id else None

    def remove_contact(self, contact: Contact) -> None:
        """Delete a contact and free its number."""
        del self.contacts[contact.id]
        self._phone_owner.pop(contact.phone_number, None)

    def renumber_contact(self, contact: Contact, number: str) -> bool:
        """Move ``contact`` to ``number``; False when another contact holds it."""
        if number != contact.phone_number:
            if number in self._phone_owner:
                return False
            self._phone_owner.pop(contact.phone_number, None)
            self._phone_owner[number] = contact.id
        contact.phone_number = number
        return True

    # -- segments

    def own_segment(self, account: Account, sid: str) -> Segment | None:
        """``account``'s segment with path id ``sid``: non-numeric → 0 → none (API-SPEC 1.1)."""
        seg = self.segments.get(int(sid)) if sid.isdigit() else None
        return seg if seg is not None and seg.user_id == account.user_id else None

    def new_segment(
        self,
        account: Account,
        name: str,
        kind: str,
        form: Form,
        *,
        datetime: str | None = None,
        last_datetime: str | None = None,
    ) -> Segment:
        """Create and store a segment from create-form fields (API-SPEC 1.6)."""
        seg = Segment(
            id=self._next_segment,
            user_id=account.user_id,
            name=name,
            type=kind if kind in ("bulk", "custom", "filter") else "filter",
            settings={},
            datetime=datetime or utc_now(),
            last_datetime=last_datetime,
        )
        self._next_segment += 1
        self.apply_settings(account, seg, form)
        self.segments[seg.id] = seg
        return seg

    def apply_settings(self, account: Account, seg: Segment, form: Form) -> None:
        """Compute ``settings`` and the ``total_contacts`` snapshot (API-SPEC 1.6, 1.11c)."""
        mine = [c for c in self.contacts.values() if c.user_id == account.user_id]
        if seg.type == "bulk":
            pieces = [p.strip() for p in re.split(r"[\r\n,]+", form.get("phone_numbers", ""))]
            unique = list(dict.fromkeys(p for p in pieces if p))
            numbers = [get_phone_number(p) for p in unique]
            if not self.api_bulk_links_contacts:
                # v2.0.1: the contacts look-up and the bulk insert use the (null) session
                # user: nothing is created, nothing linked (API-SPEC 1.11c).
                seg.settings = {"phone_numbers": numbers, "contacts_ids": []}
                seg.total_contacts = 0
                return
            for number in numbers:
                if number is not None and number not in self._phone_owner:
                    self.insert_contact(account.user_id, number, "", {})
            wanted = {n for n in numbers if n}
            ids = sorted(
                c.id
                for c in self.contacts.values()
                if c.user_id == account.user_id and c.phone_number in wanted and not c.has_opted_out
            )
            seg.settings = {"phone_numbers": numbers, "contacts_ids": ids}
            seg.total_contacts = len(ids)
        elif seg.type == "custom":
            asked = set()
            for piece in form.get("contacts_ids", "").split(","):
                piece = piece.strip()
                if piece.lstrip("-").isdigit():
                    asked.add(int(piece))
            ids = sorted(c.id for c in mine if c.id in asked and not c.has_opted_out)
            seg.settings = {"contacts_ids": ids}
            seg.total_contacts = len(ids)
        else:
            settings: dict[str, Any] = {}
            params = []
            for fkey in form:
                m = re.fullmatch(r"filters_custom_parameter_key\[(\d+)\]", fkey)
                if m is None or int(m.group(1)) >= 50:
                    continue
                i = m.group(1)
                key = form[fkey].strip()[:64]
                if not key:
                    continue
                cond = form.get(f"filters_custom_parameter_condition[{i}]", "")
                params.append(
                    {
                        "key": key,
                        "condition": cond if cond in CONDITIONS else "exact",
                        "value": form.get(f"filters_custom_parameter_value[{i}]", "")[:512],
                    }
                )
            if params:
                settings["filters_custom_parameters"] = params
            if "filters_countries[]" in form:
                settings["filters_countries"] = [
                    c for c in form.getlist("filters_countries[]") if c in COUNTRY_CODES
                ]
            if "filters_continents[]" in form:
                settings["filters_continents"] = [
                    c for c in form.getlist("filters_continents[]") if c in CONTINENT_CODES
                ]
            settings["contacts_ids"] = []
            seg.settings = settings
            seg.total_contacts = sum(
                1 for c in mine if not c.has_opted_out and self.filter_matches(settings, c)
            )

    @staticmethod
    def filter_matches(settings: dict[str, Any], contact: Contact) -> bool:
        """Whether ``contact`` matches a filter segment's settings (AND; API-SPEC 1.6).

        No filters at all match nobody; a contact lacking a key never matches, even for the
        negated conditions (SQL NULL); comparisons are case-sensitive (API-SPEC 1.11c). Empty
        country/continent lists add no condition (guess).
        """
        params = settings.get("filters_custom_parameters") or []
        countries = settings.get("filters_countries") or []
        continents = settings.get("filters_continents") or []
        if not (params or countries or continents):
            return False
        for p in params:
            if p["key"] not in contact.custom_parameters:
                return False
            if not condition_matches(
                p["condition"], contact.custom_parameters[p["key"]], p["value"]
            ):
                return False
        if countries and contact.country_code not in countries:
            return False
        return not (continents and contact.continent_code not in continents)

    def members_of(self, seg: Segment) -> Iterable[str]:
        """Phones of a static segment's members, repeats kept."""
        if seg.type == "bulk":
            return [p for p in seg.settings.get("phone_numbers", []) if p]
        return [
            self.contacts[i].phone_number
            for i in seg.settings.get("contacts_ids", [])
            if i in self.contacts
        ]
