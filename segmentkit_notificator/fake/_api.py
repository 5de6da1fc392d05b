"""HTTP side of the 66text fake: routes, Bearer auth and the limiter, envelopes, paging
(API-SPEC 1.1-1.5, 1.11c). State and filter semantics live in :mod:`._state`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, overload
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter

from ._state import TAGS, Account, Contact, PlatformState, get_phone_number, utc_now

__all__ = ["HTML_500", "NotificatorApi", "php_json"]

Profile = Literal["documented", "v2.0.1"]

# Exact English titles (API-SPEC 1.3).
T_NO_BEARER = "The request is missing the Bearer Authentication header."
T_NO_ACCESS = "You do not have access to the API."
T_REQUIRED = "You must fill all the required fields."
T_PLAN_LIMIT = "Your have exceeded the limits of your current plan."
T_MUST_DELETE = "You must delete {n} {what} as you have exceeded your plan limits."
T_NOT_FOUND = "The resource you are looking for does not exist."
T_RATE = "You reached the limit of requests in one minute, please wait."

PER_PAGE = frozenset({10, 25, 50, 100, 250, 500, 1000})
_BEARER = re.compile(r"Bearer\s(\S+)")
_RESOURCE = re.compile(r"(segments|contacts)(/[^/]*)?/?")

#: The 841-byte page of ``app/includes/500.php``, as the real v2.0.1 server sends it
#: (observed, API-SPEC 1.11c; also in tests/notificator/fixtures/66text-v2.0.1-500.html).
HTML_500 = (
    "\n"
    "<style>\n"
    "    html {\n"
    "        background: #161538;\n"
    '        font-family: -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helveti'
    'ca Neue",Arial,"Noto Sans","Liberation Sans",sans-serif,"Apple Color Emoji","Seg'
    'oe UI Emoji","Segoe UI Symbol","Noto Color Emoji";\n'
    "        width: 100%;\n"
    "        height: 100%;\n"
    "        color: #eeeeee;\n"
    "    }\n"
    "    body {\n"
    "        display: flex;\n"
    "        justify-content: center;\n"
    "        align-items: center;\n"
    "    }\n"
    "    a {\n"
    "        color: #c3beff;\n"
    "        text-decoration: none;\n"
    "    }\n"
    "    .text-white {\n"
    "        color: white;\n"
    "    }\n"
    "    .altumcode-logo {\n"
    "        width: 3rem;\n"
    "        height: auto;\n"
    "    }\n"
    "    .buttons {\n"
    "        margin-top: 1.5rem;\n"
    "    }\n"
    "</style>\n"
    '<div><h1 class="text-white">Internal server error</h1><p>Our website is having s'
    "ome issues right now.</p><p>We are actively working on fixing the issue.</p></di"
    "v>"
)


def php_json(payload: Any) -> bytes:
    """``json_encode`` without flags, as the server answers: compact, ``\\/`` for ``/``,
    non-ASCII as ``\\uXXXX`` (observed raw bodies, API-SPEC 1.11c)."""
    # "/" only occurs inside JSON strings, so escaping every one is exact.
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def php_response(payload: Any, status: int = 200) -> Response:
    """A JSON answer as the PHP application writes it."""
    return Response(php_json(payload), status=status, content_type="application/json")


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


class NotificatorApi(PlatformState, FakePlatform):
    """Routes and envelopes of a 66text deployment over :class:`PlatformState`.

    The concrete fake (:class:`segmentkit_notificator.fake.NotificatorPlatform`) sets the
    options below in its constructor.
    """

    provider: ClassVar[str] = "notificator"
    base_path: ClassVar[str] = "/api/"

    profile: Profile
    create_answer: Literal["full", "id"]
    segment_update: Literal["ok", "html500", "applied_html500"]
    limiter: FixedWindowLimiter

    @property
    def v201(self) -> bool:
        """Whether the v2.0.1 source quirks are on."""
        return self.profile == "v2.0.1"

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
        for method in ("GET", "POST", "DELETE"):
            # The default language code before `api` redirects to the bare path (1.11c).
            self.route(method, r"en/api/(?P<rest>.*)", self.language_redirect)

    def language_redirect(self, request: Request, rest: str) -> Response:
        """``/en/api/segments`` → 302 ``Location: <site>/api/segments`` (API-SPEC 1.11c)."""
        resp = Response(b"", status=302, content_type="text/html; charset=UTF-8")
        resp.headers["Location"] = f"{request.host_url}api/{rest}"
        return resp

    @staticmethod
    def error(status: int, title: str, status_value: int | str | None = None) -> Response:
        """The platform's error envelope (API-SPEC 1.3)."""
        return php_response(
            {
                "errors": [
                    {"title": title, "status": status if status_value is None else status_value}
                ]
            },
            status,
        )

    def rate_limited(self, retry_after: float) -> Response:
        # An injected 429 looks like the server's own: Limit and Reset only (API-SPEC 1.11c).
        resp = self.error(429, T_RATE)
        resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
        resp.headers["X-RateLimit-Reset"] = str(max(0, math.ceil(retry_after)))
        return resp

    def server_error(self, status: int) -> Response:
        if status == 500:
            # The PHP shutdown handler prints the 841-byte HTML page while Content-Type already
            # says JSON; Apache sends it as HTTP/1.0 with Connection: close (API-SPEC 1.11c).
            resp = Response(HTML_500, status=500, content_type="application/json")
            resp.headers["Connection"] = "close"
            setattr(resp, "http_version", "HTTP/1.0")  # noqa: B010 - read by FakePlatform
            return resp
        return super().server_error(status)

    def not_found(self, request: Request) -> Response:
        # PUT/PATCH/HEAD/OPTIONS (and any unrouted method) on a resource fall through to the
        # 404 envelope *after* auth and the limiter, so they count (API-SPEC 1.1, 1.11c).
        if _RESOURCE.fullmatch(self.relative(request.path)):
            return self._api(lambda request, account: self.error(404, T_NOT_FOUND))(request)
        return self.error(404, T_NOT_FOUND)

    def _api(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        """Wrap a handler with Bearer auth and the fixed-window limiter (API-SPEC 1.2, 1.4).

        Authentication failures carry no rate-limit headers; a 429 carries ``X-RateLimit-Limit``
        and ``X-RateLimit-Reset`` only — no ``Remaining``, no ``Retry-After`` — and on the
        whole-second limiter ``Reset`` is ``0`` during the window's last partial second
        (API-SPEC 1.11c).
        """

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
                if self.limiter.whole_seconds:
                    resp.headers["X-RateLimit-Reset"] = str(int(reset))
                else:
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
        account: Account,
        resource: str,
        rows: Sequence[dict[str, Any]],
        applied: list[tuple[str, str]],
    ) -> Response:
        """List envelope with ``meta`` and ``links`` (API-SPEC 1.5, 1.11c)."""
        raw_page = request.args.get("page")
        try:
            number = int(raw_page) if raw_page is not None else 1
        except ValueError:
            number = 1
        number = max(1, number)
        default = account.default_results_per_page
        try:
            asked = int(request.args.get("results_per_page", str(default)))
        except ValueError:
            asked = default
        # Values outside the allowed list fall back to the account's default (1.5, 1.11c).
        per_page = asked if asked in PER_PAGE else default
        total = len(rows)
        pages = math.ceil(total / per_page)
        chunk = rows[(number - 1) * per_page : number * per_page]
        base = f"{request.host_url}api/{resource}?"
        if self.v201:
            # url('api/segments?' . $filters->get_get() . '&page=%d'): the filters part holds
            # results_per_page when a valid one was sent (observed, API-SPEC 1.11c).
            sized = "results_per_page" in request.args and asked in PER_PAGE
            prefix = f"results_per_page={per_page}" if sized else ""

            def link(n: int) -> str:
                return f"{base}{prefix}&page={n}"

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
            # Past the last page `prev` is the page before the requested one (1.11c).
            "prev": link(number - 1) if number > 1 else None,
            "self": link(number),
        }
        return php_response({"data": chunk, "meta": meta, "links": links})

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
    # ------------------------------------------------------------------ segments

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
        return self._paged(request, account, "segments", rows, applied)

    def get_segment(self, request: Request, account: Account, sid: str) -> Response:
        seg = self.own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        return php_response({"data": seg.wire()})

    def create_segment(self, request: Request, account: Account) -> Response:
        form = request.form
        name = TAGS.sub("", form.get("name", "")).strip()[:256]
        if not name:
            return self.error(401, T_REQUIRED)
        owned = sum(1 for s in self.segments.values() if s.user_id == account.user_id)
        if account.segments_limit != -1 and owned >= account.segments_limit:
            return self.error(401, T_PLAN_LIMIT)
        if (
            self.v201
            and form.get("type") == "bulk"
            and not [p for p in re.split(r"[\r\n,]+", form.get("phone_numbers", "")) if p.strip()]
        ):
            # No numbers: the contacts look-up runs `phone_number IN ( )`, a SQL syntax error
            # → HTML 500, nothing stored (observed; API-SPEC 1.11c). Empty custom is fine.
            return self.server_error(500)
        seg = self.new_segment(account, name, form.get("type", ""), form)
        if self.create_answer == "id":
            return php_response({"data": {"id": seg.id}})
        return php_response({"data": seg.wire()}, 201)

    def update_segment(self, request: Request, account: Account, sid: str) -> Response:
        if self.segment_update == "html500":
            # v2.0.1 counts rows of the missing table `segmentss` first: HTML 500 for every
            # update, even unknown ids, nothing applied (API-SPEC 1.6, observed 1.11c).
            return self.server_error(500)
        seg = self.own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        owned = sum(1 for s in self.segments.values() if s.user_id == account.user_id)
        if account.segments_limit != -1 and owned > account.segments_limit:
            n = owned - account.segments_limit
            return self.error(401, T_MUST_DELETE.format(n=n, what="segments"))
        form = request.form
        if "name" in form:
            name = TAGS.sub("", form["name"]).strip()[:256]
            if name:
                seg.name = name
        kind = form.get("type")
        if kind in ("bulk", "custom", "filter"):
            seg.type = kind
        # settings are recomputed from the submitted params only: no merge (API-SPEC 1.6).
        self.apply_settings(account, seg, form)
        seg.last_datetime = utc_now()
        if self.segment_update == "applied_html500":
            # Not observed: a build that saves and then fails (like the contacts update bug,
            # API-SPEC 1.7). Lets tests cover "applied, then HTML 500".
            return self.server_error(500)
        wire = seg.wire()
        del wire["name"]  # the update answer omits `name` (API-SPEC 1.6)
        if self.create_answer == "id":
            return php_response({"data": {"id": seg.id}})
        return php_response({"data": wire})

    def delete_segment(self, request: Request, account: Account, sid: str) -> Response:
        seg = self.own_segment(account, sid)
        if seg is None:
            return self.error(404, T_NOT_FOUND)
        del self.segments[seg.id]
        # http_response_code(200); die(); — an empty body (API-SPEC 1.6).
        return Response(b"", status=200, content_type="application/json")

    # ------------------------------------------------------------------ contacts

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
            return self._paged(request, account, "contacts", _Rendered(mine), applied)
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
        return self._paged(request, account, "contacts", rows, applied)

    def get_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self.own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        return php_response({"data": contact.wire()})

    def create_contact(self, request: Request, account: Account) -> Response:
        form = request.form
        if not form.get("phone_number"):
            return self.error(401, T_REQUIRED)
        number = get_phone_number(form.get("phone_number"))
        name = TAGS.sub("", form.get("name", "")).strip()[:256]
        if number is None and not self.v201:
            return self.error(401, T_REQUIRED)
        owned = sum(1 for c in self.contacts.values() if c.user_id == account.user_id)
        if account.contacts_limit != -1 and owned >= account.contacts_limit:
            return self.error(401, T_PLAN_LIMIT)
        params = self._custom_parameters(form) or {}
        # v2.0.1: an invalid number becomes NULL, the NOT NULL insert fails → 201 with id 0
        # and phone_number null; an existing number fails the UNIQUE index → 201 with id 0
        # (observed with libphonenumber 8.x, API-SPEC 1.11c).
        cid = self.insert_contact(account.user_id, number, name, params) if number else 0
        if self.create_answer == "id":
            return php_response({"data": {"id": cid}})
        if cid:
            wire = self.contacts[cid].wire()
        else:
            wire = Contact(id=0, user_id=account.user_id, phone_number="", name=name).wire()
            wire["phone_number"] = number
        # A variable bug nulls these three in the create answer (stored fine; API-SPEC 1.7).
        wire.update(custom_parameters=None, continent_code=None, country_code=None)
        return php_response({"data": wire}, 201)

    def update_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self.own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        form = request.form
        if form.get("phone_number"):
            number = get_phone_number(form["phone_number"])
            if number is None:
                return self.error(401, T_REQUIRED)
            if not self.renumber_contact(contact, number):
                # The UNIQUE index refuses it; the v2.0.1 code does not check (guess: 500).
                return self.server_error(500)
        if "name" in form:
            contact.name = TAGS.sub("", form["name"]).strip()[:256]
        params = self._custom_parameters(form)
        if params is not None:
            contact.custom_parameters = params  # replaced, not merged (API-SPEC 1.7)
        contact.last_datetime = utc_now()
        if self.v201:
            # Saved, then json_decode() on an array → TypeError → HTML 500 (1.7, observed 1.11c).
            return self.server_error(500)
        return php_response({"data": {"id": contact.id}})

    def delete_contact(self, request: Request, account: Account, cid: str) -> Response:
        contact = self.own_contact(account, cid)
        if contact is None:
            return self.error(404, T_NOT_FOUND)
        self.remove_contact(contact)
        return Response(b"", status=200, content_type="application/json")
