"""``notificator``: SMS audience segments on 66text platforms (notificatorsms.com and the
brands running the same AltumCode "66text" software, e.g. invionotifiche.it,
sms.sociostacks.com). The behaviour encoded here is described, with sources, in
``shared/providers/API-SPEC.md`` Part 1; comments cite its sections.

What the adapter does beyond plain calls:

* list filters and ordering are sent *and* re-applied client-side, because v2.0.1 servers
  ignore them (1.5); when ordering is asked for and there is more than one page, every page is
  read and the result sorted once, so every brand gives the same answer;
* updates re-send the whole ``settings`` (the platform replaces them, 1.6) and are verified
  by reading the segment back; v2.0.1's HTML 500 on every segment update becomes a
  :class:`ServerError` that says so, never a blind retry;
* members of ``filter`` segments are evaluated client-side over the account's contacts with
  the platform's own semantics — "who the platform would pick now" (1.6);
* creates are reconciled by looking for the new object before any re-send.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from segmentkit.adapter.stores import MemberSet, MemberSetStore, Refusal
from segmentkit.adapter.wire import describe
from segmentkit.errors import (
    APIError,
    AuthenticationError,
    InvalidRecipientError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    SegmentkitError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from segmentkit.hookspecs import hookimpl
from segmentkit.http import ErrorRules, PageNumber, RateLimit, RepeatGuard, Retry
from segmentkit.membership import segment_lock
from segmentkit.models import (
    Match,
    Page,
    Recipient,
    Rule,
    Segment,
    SegmentQuery,
)
from segmentkit.provider import Provider

from ._filters import COUNTRY_FIELDS, RULES, country_codes
from ._wire import (
    _PAGE_IN_LINK,
    _PER_PAGE,
    _PROFILE_KEYS,
    _QUOTA,
    _T_NO_ACCESS,
    _T_NO_BEARER,
    _TITLES,
    _UPDATE_BUG,
    _classify,
    _Cursor,
    _Desired,
    _first_error,
    _has_profile,
    _ids_of,
    _Listing,
    _member_order,
    _phone_entry,
    _phone_key,
    _picks,
    _platform_name,
    _rules_of,
    _segment_params,
    _serials,
    _to_recipient,
    _to_segment,
    _WireContact,
    _WireId,
    _WireList,
    _WireSegment,
    _WireSettings,
    _with_note,
)

__all__ = ["NotificatorProvider"]


# ---------------------------------------------------------------------------------- the adapter


class NotificatorProvider(Provider, MemberSetStore):
    """Adapter for 66text SMS platforms (notificatorsms.com, invionotifiche.it, …).

    Segments of type ``bulk`` (phone numbers) and ``custom`` (contact ids) are static;
    ``filter`` segments are dynamic. Any brand works through ``base_url`` or the DSN host:
    ``notificator://KEY@invionotifiche.it``. Contacts and every other endpoint are reachable
    through ``client.request(...)``.
    """

    name = "notificator"
    display_name = "66text SMS (Notificator and sister brands)"
    channel = "sms"
    default_base_url = "https://notificatorsms.com/api/"
    fake = "segmentkit_notificator.fake:NotificatorPlatform"
    max_page_size = 1000
    rate_limit_window = 60.0  # 60 requests per 60 s per key, fixed window (API-SPEC 1.4)
    # Per key and host; the real server's window ends on the whole second after 60 s and
    # refuses with "Reset: 0" during that last second (API-SPEC 1.11c).
    rate_limit = RateLimit(60, 60.0, scope="account", whole_seconds=True)
    accepts_ids_on_add = True
    # `?page=N&results_per_page=M`; the last page from meta.total_pages, else from
    # links.next in either `?page=N` or `?&page=N` form (API-SPEC 1.5, see _list).
    paging = PageNumber(page="page", size="results_per_page", total_pages="meta.total_pages")

    class Credentials(BaseModel):
        """``api_key``: the account's API key (``Authorization: Bearer``)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        api_key: SecretStr

        @field_validator("api_key")
        @classmethod
        def _no_spaces(cls, v: SecretStr) -> SecretStr:
            # The server extracts the key with `Bearer\s(\S+)` (API-SPEC 1.2).
            text = v.get_secret_value()
            if not text or any(ch.isspace() for ch in text):
                raise ValueError("api_key must be non-empty and contain no whitespace")
            return v

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_accepted = False  # set once any authenticated answer succeeded
        # Contacts this client created, id → phone: a member write that fails afterwards says
        # they were created and kept (contacts outlive a failed segment update, API-SPEC 1.7).
        self._created: dict[Hashable, int] = {}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('api_key')}"}

    # ------------------------------------------------------------------ errors (API-SPEC 1.3)
    # `{"errors": [{"title", "status"}]}`. Titles are matched only where they are the
    # platform's English ones; deployments may translate them (1.3), so the fallback is by
    # status: every validation and plan-limit failure is also sent as 401 (1.3).
    errors = ErrorRules(
        status={
            400: ValidationError,
            401: AuthenticationError,
            404: NotFoundError,
            429: RateLimitError,
        },
        titles=_TITLES,
        messages=[(_QUOTA, QuotaExceededError)],
        success=lambda body: not (isinstance(body, dict) and "errors" in body),
        classify=lambda response, body: _classify(response, body),
    )

    def error_from_response(self, response: requests.Response, body: Any) -> APIError | None:
        """The declared :attr:`errors`, plus what depends on this client's history: an
        unrecognised 401 title on a write is :class:`AuthenticationError` only while this
        client has never had its key accepted; once a request succeeded, the key is known
        good and the 401 is the platform refusing the input (missing fields or plan limits,
        API-SPEC 1.3) → :class:`ValidationError`, whose message carries the platform's title.
        """
        error = super().error_from_response(response, body)
        if error is None:
            if 200 <= response.status_code < 300:
                self._key_accepted = True
            return None
        method = (response.request.method or "GET").upper() if response.request else "GET"
        title, raw_status = _first_error(body)
        if (
            type(error) is AuthenticationError
            and self._key_accepted
            and method in ("POST", "PUT", "PATCH")
            and not isinstance(raw_status, str)
            and title not in (_T_NO_BEARER, _T_NO_ACCESS)
        ):
            return ValidationError(
                f"{title or 'HTTP 401'} (HTTP 401 on a write with a working key: the platform "
                "refused the input or the plan's limits)",
                status_code=401,
            )
        return error

    # ------------------------------------------------------------------ lists (API-SPEC 1.5)

    def _list(self, path: str, number: int, per_page: int, params: dict[str, Any]) -> _Listing:
        body = self.request("GET", path, params={**params, **self.paging.params(number, per_page)})
        wire = self.parse(_WireList, body, what=f"{path} list")
        meta = wire.meta
        total_pages = meta.total_pages
        nxt: int | None = None
        if total_pages is not None:
            # No short-page rule (size None): v2.0.1 may serve fewer than asked (API-SPEC 1.5).
            nxt = self.paging.next_token(number, body, len(wire.data), None)
        else:
            link = wire.links.get("next")
            # Both `?page=N` (docs) and `?&page=N` (source) forms (API-SPEC 1.5).
            found = _PAGE_IN_LINK.search(link) if isinstance(link, str) else None
            nxt = int(found.group(1)) if found and int(found.group(1)) > number else None
        if not wire.data:
            nxt = None
        total = meta.total if meta.total is not None else meta.total_results
        return _Listing(wire.data, number, total_pages, total, nxt)

    def _segment(self, raw: Any) -> Segment:
        return _to_segment(self.parse(_WireSegment, raw, what="segment"), raw)

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        per_page = next((n for n in _PER_PAGE if n >= (query.page_size or 1000)), 1000)
        params = _segment_params(query)
        number = int(page or 1)
        listing = self._list("segments", number, per_page, params)
        self.page_fetched("segments", number, len(listing.items), listing.total_pages)
        segments = [s for s in map(self._segment, listing.items) if query.matches(s)]
        # v2.0.1 ignores order_by (API-SPEC 1.5), so ordering per page would be wrong across
        # pages; the client reads every page and sorts once when an order is asked for
        # (segmentkit.client.SegmentsAPI.list), the same for every brand.
        return Page(
            items=query.apply(segments),
            page=number,
            total_pages=listing.total_pages,
            total=None if query.has_filters else listing.total,
            next_page=listing.next_page,
        )

    # ------------------------------------------------------------------ segments (API-SPEC 1.6)

    def _get_wire(self, segment_id: str) -> tuple[_WireSegment, dict[str, Any]]:
        if not segment_id.isdigit():
            # The platform casts path ids with (int): anything else is 0 → 404 (1.1).
            raise NotFoundError(
                f"segment id {segment_id!r} is not a number", provider=self.name, status_code=404
            )
        body = self.request("GET", f"segments/{segment_id}")
        data = body.get("data") if isinstance(body, dict) else None
        return self.parse(_WireSegment, data, what="segment"), data or {}

    def get_segment(self, segment_id: str) -> Segment:
        wire, raw = self._get_wire(segment_id)
        return _to_segment(wire, raw)

    def _rules_desired(self, rules: Sequence[Rule], match: Match) -> _Desired:
        """Translate rules into filter settings, or raise before any request: custom
        parameters through the declared dialect (:data:`._filters.RULES`), ``country`` and
        ``continent`` as the platform's code lists (API-SPEC 1.6)."""
        if match == "any" and len(rules) > 1 and not RULES.any_of:
            raise RULES.unsupported("a segment matching ANY of several rules")
        desired = _Desired("filter")
        params: list[Rule] = []
        for rule in rules:
            target = COUNTRY_FIELDS.get(rule.field.lower())
            if target is None:
                params.append(rule)
                continue
            attr = "countries" if target == "filters_countries" else "continents"
            codes = country_codes(rule, target)
            if getattr(desired, attr) is not None:
                raise self.unsupported(describe(rule), f"only one {rule.field} rule is possible.")
            setattr(desired, attr, codes)
        desired.filters = [(n.field, n.condition, n.value) for n in RULES.to_native(params)]
        return desired

    def _recipients_desired(self, recipients: Sequence[Recipient]) -> _Desired:
        """Phones → ``bulk``; any member given by contact id only → ``custom`` (contacts are
        found or created for the phones)."""
        if all(r.phone for r in recipients):
            with_profile = [r for r in recipients if _has_profile(r)]
            if with_profile:
                # bulk creates bare contacts; make them first so names and fields survive.
                self._ensure_contacts(with_profile)
            phones = list(dict.fromkeys(r.phone for r in recipients if r.phone))
            return _Desired("bulk", phones=phones)
        ids: list[int] = []
        contacts = self._ensure_contacts([r for r in recipients if r.phone])
        for r in recipients:
            if r.phone:
                found = contacts.get(r.phone)
                if not isinstance(found, _WireContact):
                    raise ValidationError(
                        f"recipient {r.phone}: {found}", provider=self.name, status_code=None
                    )
                ids.append(found.id)
            elif r.id and r.id.isdigit():
                ids.append(int(r.id))
            else:
                raise InvalidRecipientError(f"contact id {r.id!r} is not a number", field="id")
        return _Desired("custom", ids=list(dict.fromkeys(ids)))

    def _named_ids(self, name: str) -> set[int]:
        """Ids of segments called exactly ``name`` (search by name; re-checked here)."""
        out: set[int] = set()
        guard = RepeatGuard(provider=self.name)  # a page served forever stops (issue 12 §4)
        number: int | None = 1
        while number is not None:
            listing = self._list("segments", number, 1000, {"search": name, "search_by": "name"})
            for raw in guard.fresh(listing.items):
                if isinstance(raw, dict) and raw.get("name") == name and raw.get("id") is not None:
                    out.add(int(raw["id"]))
            number = listing.next_page
        return out

    def _from_answer(self, body: Any, what: str) -> tuple[_WireSegment, dict[str, Any]]:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and "settings" in data and data.get("name") is not None:
            return self.parse(_WireSegment, data, what=what), data
        # Docs answer {"data": {"id": N}} (API-SPEC 1.6): read the object.
        ident = self.parse(_WireId, data, what=what)
        return self._get_wire(str(ident.id))

    def create_segment(
        self,
        *,
        name: str,
        recipients: Sequence[Recipient] | None,
        rules: Sequence[Rule] | None,
        match: Match,
    ) -> Segment:
        if rules is not None:
            desired = self._rules_desired(rules, match)
        elif not recipients:
            # v2.0.1 answers a bulk create without numbers with an HTML 500 (its query ends in
            # `IN ( )`, API-SPEC 1.11c); an empty `custom` segment is the same empty member list.
            desired = _Desired("custom")
        else:  # `match` means nothing for a member list
            desired = self._recipients_desired(list(recipients))
        stored_name = _platform_name(name)
        # Request economy: no name listing before the write. Segment ids only grow, so a
        # segment named like ours with an id above the newest id known before the write can
        # only be ours (one small request the first time, then the last create's id).
        floor = self._newest_segment_id()

        def lookup(exc: BaseException) -> Any:
            # A create is a plain POST: look for a new segment with this name first.
            fresh = {i for i in self._named_ids(stored_name) if i > floor} if stored_name else set()
            return {"data": {"id": max(fresh)}} if fresh else None

        body = self.http.post("segments", data=desired.form(name), retry=Retry.after(lookup))
        wire, raw = self._from_answer(body, "created segment")
        if wire.id is not None and int(wire.id) > floor:
            self._newest_id = int(wire.id)
        return _to_segment(wire, raw)

    def _newest_segment_id(self) -> int:
        """The highest segment id that existed before now (0 for an empty account). Lists
        are ordered by id, newest first by default (API-SPEC 1.5), but an account may prefer
        ascending order, so the last page is read too when page 1 is not descending."""
        known: int | None = getattr(self, "_newest_id", None)
        if known is not None:
            return known
        first = self._list("segments", 1, 10, {})
        ids = _ids_of(first.items)
        top = max(ids, default=0)
        descending = ids == sorted(ids, reverse=True)
        if first.total_pages and first.total_pages > 1 and not descending:
            top = max(top, *_ids_of(self._list("segments", first.total_pages, 10, {}).items))
        self._newest_id = top
        return top

    def _write_settings(
        self, segment_id: str, name: str, desired: _Desired, before: _WireSegment
    ) -> tuple[_WireSegment, dict[str, Any]]:
        """POST the update and read the segment back (the platform replaces ``settings``).

        An answer that never came or a 5xx is reconciled by reading the segment: if it holds
        what was sent, that is the result; v2.0.1's HTML 500 (nothing applied) is raised as a
        :class:`ServerError` naming the known bug, never re-sent (API-SPEC 1.6, 1.11c).
        """
        found: list[tuple[_WireSegment, dict[str, Any]]] = []

        def lookup(exc: BaseException) -> Any:
            wire, raw = self._get_wire(segment_id)
            if desired.kept_by(wire, before) and wire.name == _platform_name(name):
                found.append((wire, raw))
                return True
            if isinstance(exc, ServerError) and exc.status_code == 500:
                raise ServerError(
                    _UPDATE_BUG, provider=self.name, status_code=500, raw_body=exc.raw_body
                ) from exc
            return None  # provably not applied: the session sends it again

        self.http.post(f"segments/{segment_id}", data=desired.form(name), retry=Retry.after(lookup))
        return found[-1] if found else self._get_wire(segment_id)

    def update_segment(
        self,
        segment_id: str,
        *,
        name: str | None,
        recipients: Sequence[Recipient] | None,
        rules: Sequence[Rule] | None,
        match: Match | None,
    ) -> Segment:
        wanted_rules = self._rules_desired(rules, match or "all") if rules is not None else None
        with segment_lock(self, segment_id):
            return self._update_segment(segment_id, name, recipients, wanted_rules, match)

    def _update_segment(
        self,
        segment_id: str,
        name: str | None,
        recipients: Sequence[Recipient] | None,
        wanted_rules: _Desired | None,
        match: Match | None,
    ) -> Segment:
        current, raw = self._get_wire(segment_id)
        if wanted_rules is None and match == "any" and len(_rules_of(current.settings)) > 1:
            raise self.unsupported("a segment matching ANY of several rules")
        if name is None and recipients is None and wanted_rules is None:
            return _to_segment(current, raw)
        if wanted_rules is not None:
            desired = wanted_rules
        elif recipients is not None:
            desired = self._recipients_desired(list(recipients))
        else:
            # Renaming only: re-send the current settings or the platform drops them (1.6).
            desired = _Desired.of(current)
        new_name = name if name is not None else current.name or ""
        wire, raw = self._write_settings(segment_id, new_name, desired, current)
        if not desired.kept_by(wire, current) or wire.name != _platform_name(new_name):
            raise UnexpectedResponseError(
                "the platform answered the update as done but the segment does not hold what "
                f"was sent (type {desired.type!r}, name {new_name!r})",
                provider=self.name,
            )
        return _to_segment(wire, raw)

    def delete_segment(self, segment_id: str) -> None:
        if not segment_id.isdigit():
            raise NotFoundError(
                f"segment id {segment_id!r} is not a number", provider=self.name, status_code=404
            )
        # 200 with an empty body (API-SPEC 1.6).
        self.request("DELETE", f"segments/{segment_id}", allow_empty=True, missing_ok_on_retry=True)

    # ------------------------------------------------------------------ contacts (API-SPEC 1.7)

    def _contact(self, contact_id: int) -> _WireContact | None:
        try:
            body = self.request("GET", f"contacts/{contact_id}")
        except NotFoundError:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        return self.parse(_WireContact, data, what="contact")

    def _contacts_page(self, number: int, params: dict[str, Any] | None = None) -> _Listing:
        listing = self._list("contacts", number, 1000, params or {})
        self.page_fetched("contacts", number, len(listing.items), listing.total_pages)
        return listing

    def _find_contacts(self, phones: Iterable[str]) -> dict[str, _WireContact]:
        """Contacts of this account with these E.164 phones, by phone.

        A few phones are searched one by one (``search_by=phone_number``); when the answer
        shows the server ignored the search (v2.0.1, API-SPEC 1.5), or for many phones, all
        contacts are paged at 1000 until every phone is found.
        """
        remaining = set(phones)
        found: dict[str, _WireContact] = {}

        def take(items: list[dict[str, Any]]) -> None:
            for raw in items:
                contact = self.parse(_WireContact, raw, what="contact")
                key = _phone_key(contact.phone_number or "")
                if key in remaining:
                    found[key] = contact
                    remaining.discard(key)

        if len(remaining) <= 5:
            for phone in sorted(remaining):
                if phone not in remaining:
                    continue
                listing = self._contacts_page(1, {"search": phone, "search_by": "phone_number"})
                take(listing.items)
                honoured = all(phone in str(raw.get("phone_number") or "") for raw in listing.items)
                if not honoured or listing.next_page is not None:
                    break
                remaining.discard(phone)  # the server searched: the phone has no contact
        guard = RepeatGuard(provider=self.name)  # a page served forever stops (issue 12 §4)
        number: int | None = 1
        while remaining and number is not None:
            listing = self._contacts_page(number)
            take(guard.fresh(listing.items))
            number = listing.next_page
        return found

    def _create_contact(self, r: Recipient, *, record: bool = False) -> _WireContact | str:
        """Create a contact for ``r``; a reason string when that is impossible."""
        phone = r.phone or ""
        form: list[tuple[str, str]] = [("phone_number", phone), ("name", r.name or "")]
        params = dict(r.attributes)
        for key in _PROFILE_KEYS:
            if getattr(r, key):
                params[key] = getattr(r, key)
        for i, (key, value) in enumerate(params.items()):
            form += [(f"custom_parameter_key[{i}]", key), (f"custom_parameter_value[{i}]", value)]

        def reconcile() -> Any:
            hit = self._find_contacts([phone]).get(phone)
            return {"data": {"id": hit.id}} if hit else None

        try:
            body = self.write("POST", "contacts", data=form, reconcile=reconcile)
            data = body.get("data") if isinstance(body, dict) else None
            ident = self.parse(_WireId, data, what="created contact")
            if ident.id:
                contact = self._contact(ident.id)
                if contact is not None:
                    if record:  # by both member keys: its id (custom) and its phone (bulk)
                        self._created[contact.id] = self._created[_phone_key(phone)] = ident.id
                    return contact
            elif isinstance(data, dict) and not data.get("phone_number"):
                # id 0 and no number: libphonenumber on the server could not parse it, nothing
                # was stored (API-SPEC 1.11c; observed on v2.0.1).
                return "the platform refused the phone number as invalid (contact id 0)"
            # id 0 with the number: it already exists (phone numbers are unique platform-wide,
            # API-SPEC 1.7) — maybe ours, created meanwhile, maybe another account's.
            hit = self._find_contacts([phone]).get(phone)
        except SegmentkitError as exc:
            return f"could not create a contact: {exc}"
        if hit is None:
            return (
                "the platform refused the number (id 0): it belongs to another account on this "
                "server, as phone numbers are unique across all accounts (API-SPEC 1.7)"
            )
        return hit

    def _ensure_contacts(
        self, recipients: Sequence[Recipient], *, record: bool = False
    ) -> dict[str, _WireContact | str]:
        """A contact (or a reason) for each recipient's phone: found, else created (and, with
        ``record``, remembered until the member write that needs it is done)."""
        by_phone = {r.phone: r for r in recipients if r.phone}
        result: dict[str, _WireContact | str] = dict(self._find_contacts(by_phone))
        # One create at a time through the session, which paces them to the key's budget
        # (60/min, API-SPEC 1.4) and reconciles each: no adapter-side thread pool.
        for p, r in by_phone.items():
            if p not in result:
                result[p] = self._create_contact(r, record=record)
        return result

    # ------------------------------------------------------------------ recipients

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        """Members, one Page per contacts page read. ``bulk``: ``settings.phone_numbers``,
        enriched from the account's contacts (paged 1000 at a time until every number is
        matched: v2.0.1 links no ids for bulk segments made through the API, API-SPEC 1.11c);
        ``custom``: ``settings.contacts_ids`` through ``/contacts``, by id when that takes
        fewer requests than paging; ``filter``: its rules evaluated here over the contacts —
        *who the platform would pick now* (it lists no members, API-SPEC 1.6)."""
        cursor = page if isinstance(page, _Cursor) else self._start_cursor(segment_id)
        if cursor.kind == "filter":
            return self._filter_page(cursor)
        return self._static_page(cursor)

    def _start_cursor(self, segment_id: str) -> _Cursor:
        wire, _ = self._get_wire(segment_id)
        s = wire.settings
        cursor = _Cursor(kind=wire.type, page=1, serial=next(_serials), settings=s)
        if wire.type == "bulk":
            for raw_phone in s.phone_numbers:
                if raw_phone:
                    key, valid = _phone_entry(raw_phone)
                    cursor.phones.append(key)
                    if valid:
                        cursor.valid.add(key)
            cursor.phones = list(dict.fromkeys(cursor.phones))
            cursor.want_phones = set(cursor.phones)
            cursor.total = len(cursor.phones)
        elif wire.type == "custom":
            cursor.total = len(set(s.contacts_ids))
        else:
            cursor.kind = "filter"
        cursor.want_ids = set(s.contacts_ids) if wire.type != "filter" else set()
        # One id costs one GET, the same as one contacts page. A bulk segment's numbers can be
        # resolved by id only when every one is linked: v2.0.1 stores `contacts_ids: []` for
        # bulk segments created through the API (API-SPEC 1.11c), so their members are found
        # by paging the contacts (1000 a page) until every number is matched.
        cursor.by_id = len(cursor.want_ids) <= 1
        if wire.type == "bulk":
            cursor.by_id = not cursor.phones or (
                len(cursor.want_ids) <= 1 and len(cursor.want_ids) >= len(cursor.phones)
            )
        return cursor

    def _take(
        self, cursor: _Cursor, contact: _WireContact, raw: dict[str, Any]
    ) -> Recipient | None:
        key = _phone_key(contact.phone_number or "")
        if cursor.kind == "bulk":
            if key not in cursor.want_phones:
                return None
            cursor.want_phones.discard(key)
            cursor.want_ids.discard(contact.id)
        else:
            if contact.id not in cursor.want_ids:
                return None
            cursor.want_ids.discard(contact.id)
        return _to_recipient(contact, raw)

    def _static_page(self, cursor: _Cursor) -> Page[Recipient]:
        items: list[Recipient] = []
        nxt: _Cursor | None = None
        if cursor.by_id:
            for cid in sorted(cursor.want_ids):
                body = None
                try:
                    body = self.request("GET", f"contacts/{cid}")
                except NotFoundError:
                    cursor.want_ids.discard(cid)  # deleted since: not a member any more
                    continue
                raw = body.get("data") if isinstance(body, dict) else None
                r = self._take(cursor, self.parse(_WireContact, raw, what="contact"), raw or {})
                if r is not None:
                    items.append(r)
        else:
            listing = self._contacts_page(cursor.page)
            for raw in listing.items:
                r = self._take(cursor, self.parse(_WireContact, raw, what="contact"), raw)
                if r is not None:
                    items.append(r)
            wanted = cursor.want_phones if cursor.kind == "bulk" else cursor.want_ids
            if wanted and listing.next_page is not None:
                left = (listing.total_pages or listing.next_page) - cursor.page
                by_id = len(cursor.want_ids) < left
                if cursor.kind == "bulk":
                    # Only numbers linked by id can be fetched by id (API-SPEC 1.11c).
                    by_id = by_id and len(cursor.want_ids) >= len(cursor.want_phones)
                nxt = _Cursor(
                    kind=cursor.kind,
                    page=listing.next_page,
                    serial=cursor.serial,
                    phones=cursor.phones,
                    valid=cursor.valid,
                    want_ids=cursor.want_ids,
                    want_phones=cursor.want_phones,
                    # Fewer ids left than pages: fetch them one by one instead.
                    by_id=by_id,
                    total=cursor.total,
                )
        if nxt is None and cursor.kind == "bulk":
            # Numbers without a contact of this account are members too (bare phones).
            # The keys are normalize_phone's E.164 output where it accepted the number, so those
            # are built without a second validation; the rest are not valid recipients.
            items.extend(
                Recipient._trusted(phone=phone)
                for phone in cursor.phones
                if phone in cursor.want_phones and phone in cursor.valid
            )
            cursor.want_phones.clear()
        return Page(items=items, page=cursor.page, total=cursor.total, next_page=nxt)

    def _filter_page(self, cursor: _Cursor) -> Page[Recipient]:
        settings = cursor.settings or _WireSettings()
        if not (
            settings.filters_custom_parameters
            or settings.filters_countries
            or settings.filters_continents
        ):
            return Page(items=[], page=1, total=0)  # no filters: nobody (API-SPEC 1.6)
        listing = self._contacts_page(cursor.page)
        items: list[Recipient] = []
        for raw in listing.items:
            contact = self.parse(_WireContact, raw, what="contact")
            if _picks(settings, contact):
                items.append(_to_recipient(contact, raw))
        nxt = None
        if listing.next_page is not None:
            nxt = _Cursor(
                kind="filter", page=listing.next_page, serial=cursor.serial, settings=settings
            )
        return Page(items=items, page=cursor.page, total_pages=listing.total_pages, next_page=nxt)

    # ------------------------------------------------------------------ membership (whole list)
    # 66text stores a static segment's members whole in ``settings`` and replaces them on every
    # update (API-SPEC 1.6): a MemberSetStore. The engine locks, merges, reads back and builds
    # the outcomes; these are the primitives.

    def read_members(self, segment_id: str) -> MemberSet:
        wire, _ = self._get_wire(segment_id)
        if wire.type == "filter":
            raise self.unsupported(
                "changing the members of a filter segment",
                "Its members follow its rules (API-SPEC 1.6); change the rules with "
                "segments.update(rules=...) or the contacts' custom parameters instead.",
            )
        return MemberSet(keys=_member_order(wire), context=wire)

    def member_keys(
        self,
        segment_id: str,
        current: MemberSet,
        recipients: Sequence[Recipient],
        *,
        create: bool,
    ) -> Sequence[Hashable | Refusal | None]:
        wire: _WireSegment = current.context
        if not create:
            return self._removal_keys(wire, recipients)
        keys: list[Hashable | Refusal | None] = []
        if wire.type == "bulk":
            by_id = self._contacts_by_id([r for r in recipients if not r.phone])
            with_profile = [r for r in recipients if r.phone and _has_profile(r)]
            # bulk creates bare contacts; make them first so names and fields survive.
            made = self._ensure_contacts(with_profile, record=True) if with_profile else {}
            for r in recipients:
                phone = r.phone or by_id.get(r.id or "")
                if isinstance(made.get(r.phone or ""), str):
                    keys.append(Refusal(str(made[r.phone or ""])))
                elif phone is None:
                    keys.append(Refusal(f"no contact with id {r.id} in this account"))
                else:
                    keys.append(_phone_key(phone))
            return keys
        contacts = self._ensure_contacts([r for r in recipients if r.phone], record=True)
        for r in recipients:
            found: Any = contacts.get(r.phone) if r.phone else None
            if r.phone and isinstance(found, str):
                keys.append(Refusal(found))
            elif isinstance(found, _WireContact) and found.has_opted_out:
                keys.append(
                    Refusal("the contact has opted out; the platform drops opted-out contacts")
                )
            elif isinstance(found, _WireContact):
                keys.append(found.id)
            elif r.id and r.id.isascii() and r.id.isdigit():
                keys.append(int(r.id))
            else:
                keys.append(Refusal(f"contact id {r.id!r} is not a number"))
        return keys

    def _removal_keys(
        self, wire: _WireSegment, recipients: Sequence[Recipient]
    ) -> list[Hashable | Refusal | None]:
        keys: list[Hashable | Refusal | None] = []
        if wire.type == "bulk":
            by_id = self._contacts_by_id([r for r in recipients if not r.phone])
            for r in recipients:
                phone = r.phone or by_id.get(r.id or "")
                keys.append(_phone_key(phone) if phone else None)
            return keys
        phones = [r.phone for r in recipients if r.phone and not r.id]
        found = self._find_contacts(phones) if phones else {}
        for r in recipients:
            if r.id and r.id.isascii() and r.id.isdigit():
                keys.append(int(r.id))
            elif r.phone and r.phone in found:
                keys.append(found[r.phone].id)
            else:
                keys.append(None)
        return keys

    def write_members(
        self, segment_id: str, current: MemberSet, keys: Sequence[Hashable]
    ) -> MemberSet:
        wire: _WireSegment = current.context
        desired = (
            _Desired("bulk", phones=[str(k) for k in keys])
            if wire.type == "bulk"
            else _Desired("custom", ids=[int(str(k)) for k in keys])
        )
        try:
            fresh, _ = self._write_settings(segment_id, wire.name or "", desired, wire)
        except SegmentkitError as exc:
            made = self._forget_created(keys)
            if not made:
                raise
            kept = ", ".join(f"contact {cid}" for cid in made)
            note = "were" if len(made) > 1 else "was"
            raise _with_note(
                exc, f"{kept} {note} created for this add and kept, but not added to the segment"
            ) from exc
        self._forget_created(keys)
        return MemberSet(keys=_member_order(fresh), context=fresh)

    def _forget_created(self, keys: Sequence[Hashable]) -> list[int]:
        """Ids of the contacts created for ``keys``, no longer remembered."""
        known = dict(self._created)  # a copy: other segments' writes may add meanwhile
        ids = {known[k] for k in keys if k in known}
        for k in [k for k, v in known.items() if v in ids]:
            self._created.pop(k, None)
        return sorted(ids)

    def _contacts_by_id(self, recipients: Sequence[Recipient]) -> dict[str, str]:
        """Phone of each id-only recipient's contact (GET per id)."""
        out: dict[str, str] = {}
        for r in recipients:
            if r.id and r.id.isascii() and r.id.isdigit():
                contact = self._contact(int(r.id))
                if contact is not None and contact.phone_number:
                    out[r.id] = contact.phone_number
        return out


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the 66text adapter."""
    register(NotificatorProvider)
