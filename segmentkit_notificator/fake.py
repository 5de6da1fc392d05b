"""A stateful fake of the 66text SMS platform API (API-SPEC Part 1), for tests.

:class:`NotificatorPlatform` serves ``/api/segments`` and ``/api/contacts`` as the platform
does: Bearer auth with 32-hex keys, the ``{"data"}``/``{"errors"}`` envelopes with their exact
titles and codes (401 for missing fields), form bodies only, the 60-requests-per-60-seconds
fixed window with its headers, ``meta``/``links`` paging, empty-body deletes and 201 creates.

Two profiles (``profile=``):

* ``"documented"`` — the newer documented build: list filters and ordering honoured,
  ``meta.total``, ``?page=N`` links, working segment updates (which *replace* ``settings``);
* ``"v2.0.1"`` — the published source: list filters and ordering ignored,
  ``meta.total_results``, ``meta.page`` echoing the raw query value, ``total_contacts`` as a
  string in lists, ``?&page=N`` links, and an HTML 500 for every segment update.

``create_answer="full"`` answers creates with HTTP 201 and the whole object (source);
``"id"`` answers ``{"data": {"id": N}}`` (docs). What is a guess is marked in comments.
"""

from __future__ import annotations

import functools
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, overload
from urllib.parse import urlencode

import phonenumbers
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter, json_response

__all__ = ["CONTINENTS", "NotificatorPlatform"]

Profile = Literal["documented", "v2.0.1"]

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
_COUNTRY_CODES = frozenset(CONTINENTS) | frozenset(phonenumbers.SUPPORTED_REGIONS)
_CONTINENT_CODES = frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})

# Exact English titles (API-SPEC 1.3).
T_NO_BEARER = "The request is missing the Bearer Authentication header."
T_NO_ACCESS = "You do not have access to the API."
T_REQUIRED = "You must fill all the required fields."
T_PLAN_LIMIT = "Your have exceeded the limits of your current plan."
T_MUST_DELETE = "You must delete {n} {what} as you have exceeded your plan limits."
T_NOT_FOUND = "The resource you are looking for does not exist."
T_RATE = "You reached the limit of requests in one minute, please wait."

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
_PER_PAGE = frozenset({10, 25, 50, 100, 250, 500, 1000})
_BEARER = re.compile(r"Bearer\s(\S+)")
_TAGS = re.compile(r"<[^>]*>")
_HTML_500 = (
    '<!DOCTYPE html><html lang="en"><head><title>Internal server error</title></head>'
    '<body><div class="container"><h1>Internal server error</h1>'
    "<p>Something went wrong. Please try again later.</p></div></body></html>"
)


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


class _Rendered(Sequence[dict[str, Any]]):
    """Contacts rendered to wire dicts only when a slice of them is read."""

    def __init__(self, contacts: list[Contact]) -> None:
        self._contacts = contacts

    def __len__(self) -> int:
        return len(self._contacts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [c.wire() for c in self._contacts[index]]
        return self._contacts[index].wire()


def _parse_dt(value: str | None) -> datetime | None:
    # Filters accept Y-m-d H:i:s or HTML datetime-local; invalid → ignored (API-SPEC 1.5).
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def _numeric(value: Any) -> float:
    # bigger_than / lower_than: a non-numeric value counts as 0 (API-SPEC 1.6).
    try:
        number = float(str(value).strip())
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def condition_matches(condition: str, stored: str, wanted: str) -> bool:
    """One custom-parameter condition with MySQL-like, case-insensitive semantics
    (collation guessed case-insensitive, API-SPEC 1.6)."""
    s, w = stored.casefold(), wanted.casefold()
    if condition == "bigger_than":
        return _numeric(stored) > _numeric(wanted)
    if condition == "lower_than":
        return _numeric(stored) < _numeric(wanted)
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
    """One platform user with an API key."""

    user_id: int
    api_key: str = field(repr=False)
    segments_limit: int = -1
    contacts_limit: int = -1
    is_admin: bool = False
    active: bool = True


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

    @property
    def country_code(self) -> str | None:
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
            # PHP encodes an empty array as [] (not {}).
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


class NotificatorPlatform(FakePlatform):
    """Stateful fake of a 66text deployment (notificatorsms.com and its sister brands).

    Options: ``profile`` (``"documented"`` or ``"v2.0.1"``), ``create_answer`` (``"full"``
    or ``"id"``), ``rate_limit``/``rate_window`` (the 60/60 s fixed window, scaled down in
    tests), ``segment_update`` (``"ok"``; ``"html500"``: v2.0.1's HTML 500 with nothing
    applied, the default for ``v2.0.1``; ``"applied_html500"``: saved, then HTML 500),
    ``seed_type`` (type of segments made by :meth:`seed_segment`), ``api_key``.
    """

    provider = "notificator"
    base_path = "/api/"

    def __init__(
        self,
        *,
        seed: int = 0,
        profile: Profile = "documented",
        create_answer: Literal["full", "id"] = "full",
        rate_limit: int = 60,
        rate_window: float = 60.0,
        segment_update: Literal["ok", "html500", "applied_html500"] | None = None,
        seed_type: Literal["bulk", "custom"] = "custom",
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if profile not in ("documented", "v2.0.1"):
            raise ValueError("profile must be 'documented' or 'v2.0.1'")
        if create_answer not in ("full", "id"):
            raise ValueError("create_answer must be 'full' or 'id'")
        self.profile: Profile = profile
        self.create_answer = create_answer
        if segment_update is None:
            segment_update = "html500" if profile == "v2.0.1" else "ok"
        if segment_update not in ("ok", "html500", "applied_html500"):
            raise ValueError("segment_update must be 'ok', 'html500' or 'applied_html500'")
        self.segment_update = segment_update
        self.seed_type = seed_type
        self.limiter = FixedWindowLimiter(rate_limit, rate_window, clock)
        self._rng = random.Random(seed)
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[int, Contact] = {}
        # phone → contact id: the UNIQUE index on phone_number (API-SPEC 1.7).
        self._phone_owner: dict[str, int] = {}
        self.segments: dict[int, Segment] = {}
        self._next_user = 1
        self._next_contact = 1
        self._next_segment = 1
        super().__init__(seed=seed)
        self.account = self.add_account(api_key)

    @property
    def v201(self) -> bool:
        """Whether the v2.0.1 source quirks are on."""
        return self.profile == "v2.0.1"

    # ------------------------------------------------------------------ seeding & inspection

    def add_account(
        self,
        api_key: str | None = None,
        *,
        segments_limit: int = -1,
        contacts_limit: int = -1,
        is_admin: bool = False,
    ) -> Account:
        """Add a user with an API key (32 lowercase hex by default) and return it."""
        with self.lock:
            account = Account(
                user_id=self._next_user,
                api_key=api_key or self.new_key(self._rng),
                segments_limit=segments_limit,
                contacts_limit=contacts_limit,
                is_admin=is_admin,
            )
            self._next_user += 1
            self.accounts[account.api_key] = account
            return account

    def _account(self, account: Account | str | None) -> Account:
        if account is None:
            return self.account
        if isinstance(account, Account):
            return account
        return self.accounts[account]

    def add_contact(
        self,
        phone: str,
        name: str = "",
        custom_parameters: dict[str, Any] | None = None,
        opted_out: bool = False,
        *,
        account: Account | str | None = None,
        datetime: str | None = None,
    ) -> int:
        """Seed a contact; returns its id, or 0 when the number exists (global uniqueness)."""
        with self.lock:
            number = get_phone_number(phone)
            if number is None:
                raise ValueError(f"not a phone number: {phone!r}")
            return self._insert_contact(
                self._account(account).user_id,
                number,
                name,
                {str(k): str(v) for k, v in (custom_parameters or {}).items()},
                opted_out=opted_out,
                datetime=datetime,
            )

    def add_segment(
        self,
        name: str,
        type: str = "custom",
        *,
        phone_numbers: Iterable[str] = (),
        contacts_ids: Iterable[int] = (),
        filters: Iterable[tuple[str, str, str]] = (),
        countries: Iterable[str] | None = None,
        continents: Iterable[str] | None = None,
        account: Account | str | None = None,
        datetime: str | None = None,
        last_datetime: str | None = None,
    ) -> int:
        """Seed a segment as if created through the API; returns its id."""
        countries = list(countries) if countries is not None else None
        continents = list(continents) if continents is not None else None
        form: MultiDict[str, str] = MultiDict()
        form["type"] = type
        if type == "bulk":
            form["phone_numbers"] = ",".join(phone_numbers)
        elif type == "custom":
            form["contacts_ids"] = ",".join(str(i) for i in contacts_ids)
        else:
            for i, (key, cond, value) in enumerate(filters):
                form[f"filters_custom_parameter_key[{i}]"] = key
                form[f"filters_custom_parameter_condition[{i}]"] = cond
                form[f"filters_custom_parameter_value[{i}]"] = value
            for c in countries or ():
                form.add("filters_countries[]", c)
            for c in continents or ():
                form.add("filters_continents[]", c)
        with self.lock:
            user = self._account(account)
            seg = Segment(
                id=self._next_segment,
                user_id=user.user_id,
                name=name,
                type=type,
                settings={},
                datetime=datetime or utc_now(),
                last_datetime=last_datetime,
            )
            self._next_segment += 1
            self._apply_settings(user, seg, form)
            self.segments[seg.id] = seg
            return seg.id

    def dsn_for(self, base_url: str, account: Any = None) -> str:
        key = self._account(account).api_key
        scheme, rest = base_url.split("://", 1)
        prefix = "notificator+http" if scheme == "http" else "notificator"
        return f"{prefix}://{key}@{rest}"

    def bad_dsn(self, base_url: str) -> str:
        scheme, rest = base_url.split("://", 1)
        prefix = "notificator+http" if scheme == "http" else "notificator"
        return f"{prefix}://{'0' * 32}@{rest}"

    def seed_segment(self, name: str, recipients: Iterable[Any] = ()) -> str:
        """A ``custom`` segment (or ``bulk`` with ``seed_type="bulk"``) holding
        ``recipients``; contacts are created for their phones with their names and fields."""
        with self.lock:
            ids: list[int] = []
            phones: list[str] = []
            for r in recipients:
                params = dict(getattr(r, "attributes", {}) or {})
                for key in ("email", "first_name", "last_name"):
                    if getattr(r, key, None):
                        params[key] = getattr(r, key)
                phone = r.phone
                cid = self.add_contact(phone, getattr(r, "name", None) or "", params)
                if cid == 0:
                    cid = self._phone_owner[phone]
                ids.append(cid)
                phones.append(phone)
            if self.seed_type == "bulk":
                return str(self.add_segment(name, "bulk", phone_numbers=phones))
            return str(self.add_segment(name, "custom", contacts_ids=ids))

    def member_identities(self, segment_id: str) -> list[str]:
        with self.lock:
            seg = self.segments[int(segment_id)]
            if seg.type == "bulk":
                return [p for p in seg.settings.get("phone_numbers", []) if p]
            return [
                self.contacts[i].phone_number
                for i in seg.settings.get("contacts_ids", [])
                if i in self.contacts
            ]

    def segment_ids(self) -> list[str]:
        with self.lock:
            uid = self.account.user_id
            return [str(s.id) for s in self.segments.values() if s.user_id == uid]

    def set_opted_out(self, contact_id: int, opted_out: bool = True) -> None:
        """Flip a contact's opt-out (as a STOP/START SMS would)."""
        with self.lock:
            self.contacts[contact_id].has_opted_out = opted_out

    # ------------------------------------------------------------------ routes & envelopes

    def setup_routes(self) -> None:
        api = self._api
        self.route("GET", r"segments", api(self.list_segments))
        self.route("POST", r"segments", api(self.create_segment))
        self.route("GET", r"segments/(?P<sid>[^/]+)", api(self.get_segment))
        self.route("POST", r"segments/(?P<sid>[^/]+)", api(self.update_segment))
        self.route("DELETE", r"segments/(?P<sid>[^/]+)", api(self.delete_segment))
        self.route("GET", r"contacts", api(self.list_contacts))
        self.route("POST", r"contacts", api(self.create_contact))
        self.route("GET", r"contacts/(?P<cid>[^/]+)", api(self.get_contact))
        self.route("POST", r"contacts/(?P<cid>[^/]+)", api(self.update_contact))
        self.route("DELETE", r"contacts/(?P<cid>[^/]+)", api(self.delete_contact))

    @staticmethod
    def error(status: int, title: str, status_value: int | str | None = None) -> Response:
        """The platform's error envelope (API-SPEC 1.3)."""
        return json_response(
            {
                "errors": [
                    {"title": title, "status": status if status_value is None else status_value}
                ]
            },
            status,
        )

    def rate_limited(self, retry_after: float) -> Response:
        resp = self.error(429, T_RATE)
        resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
        resp.headers["X-RateLimit-Reset"] = f"{retry_after:g}"
        return resp

    def server_error(self, status: int) -> Response:
        # The PHP shutdown handler prints HTML while Content-Type already says JSON (1.3).
        if status == 500:
            return Response(_HTML_500, status=500, content_type="application/json")
        return super().server_error(status)

    def not_found(self, request: Request) -> Response:
        # Unrouted methods fall through to the 404 envelope (API-SPEC 1.1).
        return self.error(404, T_NOT_FOUND)

    def _api(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        """Wrap a handler with Bearer auth and the fixed-window limiter (API-SPEC 1.2, 1.4)."""

        def wrapped(request: Request, **params: str) -> Response:
            header = request.headers.get("Authorization", "")
            match = _BEARER.search(header)
            if match is None:
                return self.error(401, T_NO_BEARER, "401")
            account = self.accounts.get(match.group(1))
            if account is None or not account.active:
                return self.error(401, T_NO_ACCESS)
            if account.is_admin:
                return handler(request, account, **params)
            allowed, remaining, reset = self.limiter.hit(account.api_key)
            if not allowed:
                resp = self.error(429, T_RATE)
                resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
                resp.headers["X-RateLimit-Reset"] = str(max(1, math.ceil(reset)))
                return resp
            resp = handler(request, account, **params)
            resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
            resp.headers["X-RateLimit-Remaining"] = str(remaining)
            return resp

        return wrapped

    def _paged(
        self,
        request: Request,
        resource: str,
        rows: Sequence[dict[str, Any]],
        applied: list[tuple[str, str]],
    ) -> Response:
        """List envelope with ``meta`` and ``links`` (API-SPEC 1.5)."""
        raw_page = request.args.get("page")
        try:
            number = int(raw_page) if raw_page is not None else 1
        except ValueError:
            number = 1
        number = max(1, number)
        try:
            per_page = int(request.args.get("results_per_page", "25"))
        except ValueError:
            per_page = 25
        if per_page not in _PER_PAGE:
            per_page = 25
        total = len(rows)
        pages = math.ceil(total / per_page)
        chunk = rows[(number - 1) * per_page : number * per_page]
        base = f"{request.host_url}api/{resource}?"
        if self.v201:
            # url('api/segments?' . $filters->get_get() . '&page=%d') with empty filters.
            def link(n: int) -> str:
                return f"{base}&page={n}"

            meta: dict[str, Any] = {
                "page": raw_page if raw_page is not None else 1,
                "total_pages": pages,
                "results_per_page": per_page,
                "total_results": total,
            }
        else:
            prefix = urlencode(applied) + "&" if applied else ""

            def link(n: int) -> str:
                return f"{base}{prefix}page={n}"

            meta = {
                "page": number,
                "results_per_page": per_page,
                "total": total,
                "total_pages": pages,
            }
        links = {
            "first": link(1),
            "last": link(pages) if pages else None,
            "next": link(number + 1) if number < pages else None,
            "prev": link(number - 1) if number > 1 else None,
            "self": link(number),
        }
        return json_response({"data": chunk, "meta": meta, "links": links})

    def _filtered(
        self,
        request: Request,
        rows: list[dict[str, Any]],
        *,
        search_by: set[str],
        plain: dict[str, Callable[[dict[str, Any], str], bool]],
        datetime_fields: set[str],
        order_by: dict[str, str],
        default_order: str,
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """The newer builds' Filters semantics (API-SPEC 1.5); v2.0.1 ignores them all."""
        args = request.args
        applied: list[tuple[str, str]] = []
        if not self.v201:
            search, by = args.get("search"), args.get("search_by")
            if search and by in search_by:
                needle = search.casefold()
                rows = [r for r in rows if needle in str(r.get(by) or "").casefold()]
                applied += [("search", search), ("search_by", by)]
            for name, test in plain.items():
                value = args.get(name)
                if value is not None and value != "":
                    rows = [r for r in rows if test(r, value)]
                    applied.append((name, value))
            dt_field = args.get("datetime_field")
            if dt_field in datetime_fields:
                start = _parse_dt(args.get("datetime_start"))
                end = _parse_dt(args.get("datetime_end"))
                for bound, after in ((start, True), (end, False)):
                    if bound is None:
                        continue
                    rows = [
                        r
                        for r in rows
                        if (stamp := _parse_dt(r.get(dt_field))) is not None
                        and (stamp >= bound if after else stamp <= bound)
                    ]
        column = default_order
        descending = True  # default_order_type: DESC when unset (API-SPEC 1.5)
        if not self.v201 and args.get("order_by") in order_by:
            column = order_by[args["order_by"]]
            descending = args.get("order_type", "").upper() == "DESC"  # ASC by default
            applied += [
                ("order_by", args["order_by"]),
                ("order_type", "DESC" if descending else "ASC"),
            ]

        def key(r: dict[str, Any]) -> tuple[Any, ...]:
            v = r.get(column)
            if isinstance(v, str) and column not in ("datetime", "last_datetime"):
                v = v.casefold()
            if column == "total_contacts":
                v = int(v or 0)
            return (v is not None, v if v is not None else 0)

        rows = sorted(rows, key=lambda r: int(r["id"]), reverse=descending)
        rows = sorted(rows, key=key, reverse=descending)
        if not self.v201 and "results_per_page" in args:
            applied.append(("results_per_page", args["results_per_page"]))
        return rows, applied

    # ------------------------------------------------------------------ segments

    def _own_segment(self, account: Account, sid: str) -> Segment | None:
        # Path ids are cast with (int): non-numeric → 0 → 404 (API-SPEC 1.1).
        seg = self.segments.get(int(sid)) if sid.isdigit() else None
        return seg if seg is not None and seg.user_id == account.user_id else None

    def list_segments(self, request: Request, account: Account) -> Response:
        rows = [
            s.wire(total_as_string=self.v201)
            for s in self.segments.values()
            if s.user_id == account.user_id
        ]

        def eq(name: str) -> Callable[[dict[str, Any], str], bool]:
            return lambda r, v: str(r.get(name)).casefold() == v.casefold()

        rows, applied = self._filtered(
            request,
            rows,
            search_by={"name"},
            plain={"type": eq("type"), "segment_id": eq("id"), "user_id": eq("user_id")},
            datetime_fields={"datetime", "last_datetime"},
            order_by={
                "segment_id": "id",
                "name": "name",
                "datetime": "datetime",
                "last_datetime": "last_datetime",
                "total_contacts": "total_contacts",
            },
            default_order="id",
        )
        return self._paged(request, "segments", rows, applied)

    def get_segment(self, request: Request, account: Account, sid: str) -> Response:
        seg = self._own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        return json_response({"data": seg.wire()})

    def create_segment(self, request: Request, account: Account) -> Response:
        form = request.form
        name = _TAGS.sub("", form.get("name", "")).strip()[:256]
        if not name:
            return self.error(401, T_REQUIRED)
        owned = sum(1 for s in self.segments.values() if s.user_id == account.user_id)
        if account.segments_limit != -1 and owned >= account.segments_limit:
            return self.error(401, T_PLAN_LIMIT)
        kind = form.get("type", "")
        seg = Segment(
            id=self._next_segment,
            user_id=account.user_id,
            name=name,
            type=kind if kind in ("bulk", "custom", "filter") else "filter",
            settings={},
        )
        self._next_segment += 1
        self._apply_settings(account, seg, form)
        self.segments[seg.id] = seg
        if self.create_answer == "id":
            return json_response({"data": {"id": seg.id}})
        return json_response({"data": seg.wire()}, 201)

    def update_segment(self, request: Request, account: Account, sid: str) -> Response:
        if self.segment_update == "html500":
            # v2.0.1 counts rows of the missing table `segmentss` first: HTML 500 for every
            # update, even unknown ids, nothing applied (API-SPEC 1.6).
            return self.server_error(500)
        seg = self._own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        owned = sum(1 for s in self.segments.values() if s.user_id == account.user_id)
        if account.segments_limit != -1 and owned > account.segments_limit:
            n = owned - account.segments_limit
            return self.error(401, T_MUST_DELETE.format(n=n, what="segments"))
        form = request.form
        if "name" in form:
            name = _TAGS.sub("", form["name"]).strip()[:256]
            if name:
                seg.name = name
        kind = form.get("type")
        if kind in ("bulk", "custom", "filter"):
            seg.type = kind
        # settings are recomputed from the submitted params only: no merge (API-SPEC 1.6).
        self._apply_settings(account, seg, form)
        seg.last_datetime = utc_now()
        if self.segment_update == "applied_html500":
            # Not observed: a build that saves and then fails (like the contacts update bug,
            # API-SPEC 1.7). Lets tests cover "applied, then HTML 500".
            return self.server_error(500)
        wire = seg.wire()
        del wire["name"]  # the update answer omits `name` (API-SPEC 1.6)
        if self.create_answer == "id":
            return json_response({"data": {"id": seg.id}})
        return json_response({"data": wire})

    def delete_segment(self, request: Request, account: Account, sid: str) -> Response:
        seg = self._own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        del self.segments[seg.id]
        # http_response_code(200); die(); — an empty body (API-SPEC 1.6).
        return Response(b"", status=200, content_type="application/json")

    def _apply_settings(self, account: Account, seg: Segment, form: MultiDict[str, str]) -> None:
        """Compute ``settings`` and the ``total_contacts`` snapshot (API-SPEC 1.6)."""
        mine = [c for c in self.contacts.values() if c.user_id == account.user_id]
        if seg.type == "bulk":
            pieces = [p.strip() for p in re.split(r"[\r\n,]+", form.get("phone_numbers", ""))]
            unique = list(dict.fromkeys(p for p in pieces if p))
            numbers = [get_phone_number(p) for p in unique]
            known = {c.phone_number for c in self.contacts.values()}
            for number in numbers:
                if number is not None and number not in known:
                    self._insert_contact(account.user_id, number, "", {})
                    known.add(number)
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
                    c for c in form.getlist("filters_countries[]") if c in _COUNTRY_CODES
                ]
            if "filters_continents[]" in form:
                settings["filters_continents"] = [
                    c for c in form.getlist("filters_continents[]") if c in _CONTINENT_CODES
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
        negated conditions (SQL NULL). Empty country/continent lists add no condition (guess).
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

    # ------------------------------------------------------------------ contacts

    def _insert_contact(
        self,
        user_id: int,
        number: str,
        name: str,
        params: dict[str, str],
        *,
        opted_out: bool = False,
        datetime: str | None = None,
    ) -> int:
        # UNIQUE index on phone_number across all users: a duplicate insert fails silently
        # and yields id 0 (API-SPEC 1.7, inference).
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
        )
        self._next_contact += 1
        self.contacts[contact.id] = contact
        self._phone_owner[number] = contact.id
        return contact.id

    def _own_contact(self, account: Account, cid: str) -> Contact | None:
        contact = self.contacts.get(int(cid)) if cid.isdigit() else None
        return contact if contact is not None and contact.user_id == account.user_id else None

    @staticmethod
    def _custom_parameters(form: MultiDict[str, str]) -> dict[str, str] | None:
        pairs: dict[str, str] = {}
        sent = False
        for fkey in form:
            m = re.fullmatch(r"custom_parameter_key\[(\d+)\]", fkey)
            if m is None:
                continue
            sent = True
            key = form[fkey].strip()[:64]
            if key:
                pairs[key] = form.get(f"custom_parameter_value[{m.group(1)}]", "")[:512]
        return pairs if sent else None

    def list_contacts(self, request: Request, account: Account) -> Response:
        if set(request.args) <= {"page", "results_per_page"}:
            # Plain paging (default order: id DESC): render only the page asked for, so a
            # fake holding 200,000 contacts answers each page in constant time.
            mine = [c for c in reversed(self.contacts.values()) if c.user_id == account.user_id]
            applied = (
                [("results_per_page", request.args["results_per_page"])]
                if not self.v201 and "results_per_page" in request.args
                else []
            )
            return self._paged(request, "contacts", _Rendered(mine), applied)
        rows = [c.wire() for c in self.contacts.values() if c.user_id == account.user_id]

        def eq(name: str) -> Callable[[dict[str, Any], str], bool]:
            return lambda r, v: str(r.get(name)).casefold() == v.casefold()

        def opted(r: dict[str, Any], v: str) -> bool:
            return str(int(bool(r["has_opted_out"]))) == v

        rows, applied = self._filtered(
            request,
            rows,
            search_by={"name", "phone_number"},
            plain={
                "user_id": eq("user_id"),
                "has_opted_out": opted,
                "continent_code": eq("continent_code"),
                "country_code": eq("country_code"),
            },
            datetime_fields={
                "datetime",
                "last_datetime",
                "last_sent_datetime",
                "last_received_datetime",
            },
            order_by={
                "contact_id": "id",
                "name": "name",
                "phone_number": "phone_number",
                "datetime": "datetime",
                "last_datetime": "last_datetime",
            },
            default_order="id",
        )
        return self._paged(request, "contacts", rows, applied)

    def get_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self._own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        return json_response({"data": contact.wire()})

    def create_contact(self, request: Request, account: Account) -> Response:
        form = request.form
        number = get_phone_number(form.get("phone_number"))
        if not form.get("phone_number") or number is None:
            return self.error(401, T_REQUIRED)
        owned = sum(1 for c in self.contacts.values() if c.user_id == account.user_id)
        if account.contacts_limit != -1 and owned >= account.contacts_limit:
            return self.error(401, T_PLAN_LIMIT)
        name = _TAGS.sub("", form.get("name", "")).strip()[:256]
        params = self._custom_parameters(form) or {}
        cid = self._insert_contact(account.user_id, number, name, params)
        if self.create_answer == "id":
            return json_response({"data": {"id": cid}})
        wire = (
            self.contacts[cid].wire()
            if cid
            else Contact(id=0, user_id=account.user_id, phone_number=number, name=name).wire()
        )
        # A variable bug nulls these three in the create answer (stored fine; API-SPEC 1.7).
        wire.update(custom_parameters=None, continent_code=None, country_code=None)
        return json_response({"data": wire}, 201)

    def update_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self._own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        form = request.form
        if form.get("phone_number"):
            number = get_phone_number(form["phone_number"])
            if number is None:
                return self.error(401, T_REQUIRED)
            if number != contact.phone_number:
                if number in self._phone_owner:
                    # The UNIQUE index refuses it; the v2.0.1 code does not check (guess: 500).
                    return self.server_error(500)
                self._phone_owner.pop(contact.phone_number, None)
                self._phone_owner[number] = contact.id
            contact.phone_number = number
        if "name" in form:
            contact.name = _TAGS.sub("", form["name"]).strip()[:256]
        params = self._custom_parameters(form)
        if params is not None:
            contact.custom_parameters = params  # replaced, not merged (API-SPEC 1.7)
        contact.last_datetime = utc_now()
        if self.v201:
            # Saved, then json_decode() on an array → TypeError → HTML 500 (API-SPEC 1.7).
            return self.server_error(500)
        return json_response({"data": {"id": contact.id}})

    def delete_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self._own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        del self.contacts[contact.id]
        self._phone_owner.pop(contact.phone_number, None)
        return Response(b"", status=200, content_type="application/json")
