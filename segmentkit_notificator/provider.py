"""``notificator``: segments on 66text SMS platforms (``shared/providers/API-SPEC.md`` Part 1,
cited by section); wire mapping in :mod:`._wire`, filter semantics in :mod:`._filters`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from functools import partial
from typing import Any

import requests
from typing_extensions import Unpack

from segmentkit.adapter import (
    MemberSet,
    MemberSetStore,
    Provider,
    Refusal,
    SegmentChange,
    SegmentDraft,
)
from segmentkit.adapter.base import BearerKey
from segmentkit.adapter.stores import first_key, numeric_id
from segmentkit.adapter.wire import PROFILE_KEYS, has_profile, indexed_fields, phone_key, phone_keys
from segmentkit.errors import (
    APIError,
    AuthenticationError,
    InvalidRecipientError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    SegmentkitError,
    ServerError,
    ValidationError,
)
from segmentkit.hookspecs import hookimpl
from segmentkit.http import ErrorRules, RateLimit, Retry
from segmentkit.http.keyproof import KeyProof
from segmentkit.http.numbered import EnvelopePages
from segmentkit.membership import segment_lock
from segmentkit.membership.resolve import Created, Directory
from segmentkit.models import Match, Page, Recipient, Rule, Segment, SegmentQuery

from . import _wire as w
from ._filters import RULES

__all__ = ["NotificatorProvider"]

#: `?page=N&results_per_page=M`; the last page from meta.total_pages, else from links.next in
#: either `?page=N` or `?&page=N` form; `total`, or `total_results` in the source (API-SPEC 1.5).
_PAGES = EnvelopePages(
    page="page",
    size="results_per_page",
    total_pages="meta.total_pages",
    totals=("meta.total", "meta.total_results"),
    next_link="links.next",
)
_Contact = tuple[w.WireContact, dict[str, Any]]  # a contact and the object it was read from


def _data(body: Any) -> Any:
    return body.get("data") if isinstance(body, dict) else None


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
    # 60 requests per 60 s per key and host, fixed window (API-SPEC 1.4); the window ends on
    # the whole second after 60 s (API-SPEC 1.11c).
    rate_limit = RateLimit(60, 60.0, scope="account", whole_seconds=True)
    accepts_ids_on_add = True
    paging = _PAGES

    Credentials = BearerKey  # the key is read with `Bearer\s(\S+)` (API-SPEC 1.2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A status sent as the string "401" is about the Bearer header only (API-SPEC 1.3).
        self._key = KeyProof(
            auth_messages=(w.T_NO_BEARER, w.T_NO_ACCESS),
            message_at="errors.0.title",
            text_status_at="errors.0.status",
        )
        # Contacts created for member keys, kept when the write fails (API-SPEC 1.7).
        self._created = Created()
        self._newest_id: int | None = None  # the highest segment id seen
        # Contacts by E.164 phone (searched, else paged: v2.0.1 ignores search, 1.5) or by id.
        self._directory: Directory[str, _Contact, int] = Directory(
            key_of=lambda c: phone_key(c[0].phone_number or ""),
            id_of=lambda c: c[0].id,
            get_one=self._contact,
            pages=self._contact_pages,
            search=self._search_contacts,
        )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('api_key')}"}

    # ------------------------------------------------------------------ errors (API-SPEC 1.3)
    # `{"errors": [{"title", "status"}]}`; titles only where English (brands translate them),
    # else by status: validation and plan-limit failures are sent as 401 too (1.3).
    errors = ErrorRules(
        status={
            400: ValidationError,
            401: AuthenticationError,
            404: NotFoundError,
            429: RateLimitError,
        },
        titles=w.TITLES,
        messages=[(w.QUOTA, QuotaExceededError)],
        success=lambda body: not (isinstance(body, dict) and "errors" in body),
        carried_status="errors.0.status",  # an `errors` envelope inside HTTP 2xx
        # The string "401": a missing or malformed Bearer header, in any language (1.3).
        text_status={"401": AuthenticationError},
    )

    def error_from_response(self, response: requests.Response, body: Any) -> APIError | None:
        """:attr:`errors`; once the key worked, an unknown 401 title on a write is the input or
        the plan's limits refused (API-SPEC 1.3)."""
        return self._key.judge_body(response, super().error_from_response(response, body), body)

    # ------------------------------------------------------------------ segments (API-SPEC 1.6)

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        per_page = next((n for n in w.PER_PAGE if n >= (query.page_size or 1000)), 1000)
        got = _PAGES.read(self.http, "segments", int(page or 1), per_page, w.QUERY.params(query))
        segments = self.parse_items(
            w.WireSegment, got.items, what="segments list", into=w.to_segment
        )
        # v2.0.1 ignores the filters and order_by (API-SPEC 1.5): applied to the page here.
        return got.segment_page(segments, query)

    def _get_wire(self, segment_id: str) -> tuple[w.WireSegment, dict[str, Any]]:
        # The platform casts path ids with (int): anything else is 0 → 404 (1.1).
        data = _data(self.http.get(self.numeric_path("segments", segment_id, "segment")))
        return self.parse(w.WireSegment, data, what="segment"), data or {}

    def get_segment(self, segment_id: str) -> Segment:
        return w.to_segment(*self._get_wire(segment_id))

    def _rules_desired(self, rules: Sequence[Rule], match: Match) -> w.Desired:
        natives, lists = RULES.split(rules, match)  # or raise naming the rule (API-SPEC 1.6)
        filters = [(n.field, n.condition, n.value) for n in natives]
        return w.Desired("filter", filters=filters, lists=lists)

    def _recipients_desired(self, recipients: Sequence[Recipient]) -> w.Desired:
        """Phones → ``bulk``; any id-only member → ``custom`` (contacts found or created)."""
        if all(r.phone for r in recipients):
            # bulk creates bare contacts; make them first so names and fields survive.
            self._contacts_for([r for r in recipients if has_profile(r)])
            return w.Desired("bulk", phones=list(dict.fromkeys(r.phone or "" for r in recipients)))
        ids: list[int] = []
        for r, key in zip(recipients, self._contact_ids(recipients, member=False), strict=True):
            if isinstance(key, Refusal) and r.phone:
                raise ValidationError(f"recipient {r.phone}: {key.reason}", provider=self.name)
            if isinstance(key, Refusal):
                raise InvalidRecipientError(key.reason, field="id")
            ids.append(key)
        return w.Desired("custom", ids=list(dict.fromkeys(ids)))

    def create_segment(self, **draft: Unpack[SegmentDraft]) -> Segment:
        rules, recipients = draft["rules"], draft["recipients"]
        if rules is not None:
            desired = self._rules_desired(rules, draft["match"])
        elif not recipients:
            # v2.0.1 answers a bulk create without numbers with an HTML 500 (`IN ( )`,
            # API-SPEC 1.11c); an empty `custom` segment is the same empty member list.
            desired = w.Desired("custom")
        else:  # `match` means nothing for a member list
            desired = self._recipients_desired(list(recipients))
        stored = w.platform_name(draft["name"])
        # No name listing before the write (issue 14): ids only grow, so a segment named like
        # ours above the newest id known before the write can only be ours (page 1 is newest
        # first by default, API-SPEC 1.5).
        if self._newest_id is None:
            self._newest_id = _PAGES.newest_id(self.http, "segments")
        floor = self._newest_id

        def lookup(exc: BaseException) -> Any:
            search = {"search": stored, "search_by": "name"}  # v2.0.1 ignores it (1.5)
            ours = stored and _PAGES.ids_where(
                self.http, "segments", {"name": stored}, search, above=floor, size=1000
            )
            return {"data": {"id": max(ours)}} if ours else None

        form = desired.form(draft["name"])
        data = _data(self.http.post("segments", data=form, retry=Retry.after(lookup)))
        if isinstance(data, dict) and "settings" in data and data.get("name") is not None:
            wire, raw = self.parse(w.WireSegment, data, what="created segment"), data
        else:  # docs answer {"data": {"id": N}} (API-SPEC 1.6): read the object
            wire, raw = self._get_wire(str(self.parse(w.WireId, data, what="created segment").id))
        self._newest_id = max(floor, wire.id)
        return w.to_segment(wire, raw)

    def _write_settings(
        self, segment_id: str, name: str, desired: w.Desired, before: w.WireSegment, strict: bool
    ) -> tuple[w.WireSegment, dict[str, Any]]:
        """POST the settings (the platform replaces them whole) and read the segment back;
        v2.0.1's HTML 500 applies nothing and names the bug (API-SPEC 1.6, 1.11c)."""
        stored = w.platform_name(name)

        def known_bug(exc: BaseException) -> ServerError | None:
            if not (isinstance(exc, ServerError) and exc.status_code == 500):
                return None
            return ServerError(
                w.UPDATE_BUG, provider=self.name, status_code=500, raw_body=exc.raw_body
            )

        return self.checked_write(
            f"segments/{segment_id}",
            data=desired.form(name),
            read=lambda: self._get_wire(segment_id),
            holds=lambda got: desired.kept_by(got[0], before) and got[0].name == stored,
            not_applied=known_bug,
            strict=f"type {desired.type!r}, name {name!r}" if strict else None,
        )

    def update_segment(self, segment_id: str, **change: Unpack[SegmentChange]) -> Segment:
        name, recipients, rules = change["name"], change["recipients"], change["rules"]
        wanted_rules = (
            self._rules_desired(rules, change["match"] or "all") if rules is not None else None
        )
        with segment_lock(self, segment_id):
            current, raw = self._get_wire(segment_id)
            many = len(w.rules_of(current.settings)) > 1
            if wanted_rules is None and change["match"] == "any" and many:
                raise self.unsupported("a segment matching ANY of several rules")
            if name is None and recipients is None and wanted_rules is None:
                return w.to_segment(current, raw)
            if wanted_rules is not None:
                desired = wanted_rules
            elif recipients is not None:
                desired = self._recipients_desired(list(recipients))
            else:  # renaming only: re-send the settings or the platform drops them (1.6)
                desired = w.Desired.of(current)
            new_name = name if name is not None else current.name or ""
            return w.to_segment(*self._write_settings(segment_id, new_name, desired, current, True))

    def delete_segment(self, segment_id: str) -> None:
        # 200 with an empty body (API-SPEC 1.6).
        path = self.numeric_path("segments", segment_id, "segment")
        self.http.delete(path, allow_empty=True, gone_ok=True)

    # ------------------------------------------------------------------ contacts (API-SPEC 1.7)

    def _contact(self, contact_id: int) -> _Contact | None:
        body = self.http.get(f"contacts/{contact_id}", absent_ok=True)  # 404: no such contact
        data = _data(body)
        return None if body is None else (self.parse(w.WireContact, data, what="contact"), data)

    def _contact_pages(self) -> Iterator[tuple[list[_Contact], int]]:
        """Every contact, 1000 a page, with the number of pages left after each."""
        for page in _PAGES.walk(self.http, "contacts", 1000, flat=True):
            left = (page.total_pages or page.next_page or 0) - page.number
            yield self._contacts(page.items), left if page.next_page else 0

    def _contacts(self, items: list[dict[str, Any]]) -> list[_Contact]:
        wires = self.parse_items(w.WireContact, items, what="contacts list")
        return list(zip(wires, items, strict=True))

    def _search_contacts(self, phone: str) -> tuple[list[_Contact], bool]:
        """Page 1 of a search by phone, and whether the server honoured it (API-SPEC 1.5)."""
        params = {"search": phone, "search_by": "phone_number"}
        items, honoured = _PAGES.search(
            self.http, "contacts", phone, "phone_number", params, size=1000
        )
        return self._contacts(items), honoured

    def _create_contact(
        self, r: Recipient, lookup: Callable[[], Any], *, record: bool
    ) -> _Contact | Refusal:
        phone = r.phone or ""
        params = dict(r.attributes)
        params.update({k: getattr(r, k) for k in PROFILE_KEYS if getattr(r, k)})
        form = [("phone_number", phone), ("name", r.name or "")]
        form += indexed_fields(params.items(), "custom_parameter_key", "custom_parameter_value")

        def reconcile(exc: BaseException) -> Any:
            hit = lookup()
            return {"data": {"id": hit[0].id}} if hit else None

        try:
            data = _data(self.http.post("contacts", data=form, retry=Retry.after(reconcile)))
            ident = self.parse(w.WireId, data, what="created contact").id
            contact = self._contact(ident) if ident else None
            if contact is not None:
                if record:  # by both member keys: its id (custom) and its phone (bulk)
                    self._created.record(ident, contact[0].id, phone_key(phone))
                return contact
            if not ident and isinstance(data, dict) and not data.get("phone_number"):
                # id 0 and no number: the server's libphonenumber refused it, nothing stored
                # (API-SPEC 1.11c; observed on v2.0.1).
                return Refusal("the platform refused the phone number as invalid (contact id 0)")
            # id 0 with the number: it exists already (phone numbers are unique platform-wide,
            # API-SPEC 1.7) — maybe ours, created meanwhile, maybe another account's.
            hit: _Contact | None = lookup()
        except SegmentkitError as exc:
            return Refusal(f"could not create a contact: {exc}")
        return hit or Refusal(
            "the platform refused the number (id 0): it belongs to another account on this "
            "server, as phone numbers are unique across all accounts (API-SPEC 1.7)"
        )

    def _contacts_for(
        self, recipients: Sequence[Recipient], *, record: bool = False
    ) -> dict[str, _Contact | Refusal]:
        """A contact (or refusal) per phone: found, else created (paced by the session, 1.4)."""
        by_phone = {r.phone: r for r in recipients if r.phone}
        return self._directory.find_or_create(
            by_phone, partial(self._create_contact, record=record)
        )

    # ------------------------------------------------------------------ recipients

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        """``bulk``: its numbers, with their contacts (v2.0.1 links no ids for them, API-SPEC
        1.11c); ``custom``: its contacts; ``filter``: who the platform would pick now, its rules
        evaluated here over the contacts (it lists no members, 1.6)."""
        return self.stream_pages(page, lambda: self._members(segment_id), resource="recipients")

    def _members(self, segment_id: str) -> Iterator[Recipient]:
        wire, _ = self._get_wire(segment_id)
        s = wire.settings
        if wire.type not in ("bulk", "custom"):
            if s.filters_custom_parameters or s.lists():
                for contacts, _ in self._contact_pages():  # no filters: nobody (1.6)
                    yield from (w.to_recipient(*c) for c in contacts if w.picks(s, c[0]))
            return
        bulk = wire.type == "bulk"
        phones = phone_keys(s.phone_numbers) if bulk else {}  # key → normalize_phone accepted
        ids = set(s.contacts_ids)
        want: set[Any] = set(phones) if bulk else ids
        found = self._directory.gather(want, ids, by_id=not bulk)  # by phone or by id
        yield from (w.to_recipient(*c) for c in found)
        # Numbers without a contact of this account are members too (bare phones): keys are
        # normalize_phone's output where it accepted them, so no second validation.
        yield from (Recipient._trusted(phone=p) for p, ok in phones.items() if ok and p in want)

    # ---------------------------------------- membership: the whole list in settings (1.6)

    def read_members(self, segment_id: str) -> MemberSet:
        wire, _ = self._get_wire(segment_id)
        if wire.type == "filter":
            raise self.unsupported(
                "changing the members of a filter segment",
                "Its members follow its rules (API-SPEC 1.6); change the rules with "
                "segments.update(rules=...) or the contacts' custom parameters instead.",
            )
        return MemberSet(keys=w.member_order(wire), context=wire)

    def member_keys(
        self,
        segment_id: str,
        current: MemberSet,
        recipients: Sequence[Recipient],
        *,
        create: bool,
    ) -> Sequence[Hashable | Refusal | None]:
        wire: w.WireSegment = current.context
        if wire.type == "bulk":  # members are phones; an id-only recipient's is its contact's
            ids = {r.id or "" for r in recipients if not r.phone and numeric_id(r) is not None}
            linked = {i: c[0].phone_number for i in ids if (c := self._contact(int(i)))}
            made: dict[str, _Contact | Refusal] = {}
            if create:  # bulk makes bare contacts: make them first so names and fields survive
                profiled = [r for r in recipients if r.phone and has_profile(r)]
                made = self._contacts_for(profiled, record=True)

            def by_phone(r: Recipient) -> str | Refusal | None:
                made_for = made.get(r.phone or "")
                if isinstance(made_for, Refusal):  # its contact could not be made
                    return made_for
                phone = r.phone or linked.get(r.id or "")
                return phone_key(phone) if phone else None

            def unknown(r: Recipient) -> Refusal | None:
                return Refusal(f"no contact with id {r.id} in this account") if create else None

            return first_key(recipients, by_phone, otherwise=unknown)
        if not create:  # by id first, else the contact with the phone
            found = self._directory.find(r.phone for r in recipients if r.phone and not r.id)
            return first_key(
                recipients,
                numeric_id,
                lambda r: found[r.phone][0].id if r.phone in found else None,
            )
        return self._contact_ids(recipients, member=True)

    def _contact_ids(self, recipients: Sequence[Recipient], *, member: bool) -> list[int | Refusal]:
        """Contact id (or refusal) per recipient: by phone (found, else created), else its
        id. ``member``: for a member write (created contacts recorded, opted-out refused)."""
        contacts = self._contacts_for([r for r in recipients if r.phone], record=member)

        def by_phone(r: Recipient) -> int | Refusal | None:
            contact = contacts.get(r.phone or "")
            if contact is None or isinstance(contact, Refusal):
                return contact
            if contact[0].has_opted_out and member:
                return Refusal("the contact has opted out; the platform drops opted-out contacts")
            return contact[0].id

        keys = first_key(
            recipients,
            by_phone,
            numeric_id,
            otherwise=lambda r: Refusal(f"contact id {r.id!r} is not a number"),
        )
        return [k for k in keys if k is not None]  # `otherwise` always gives one

    def write_members(
        self, segment_id: str, current: MemberSet, keys: Sequence[Hashable]
    ) -> MemberSet:
        wire: w.WireSegment = current.context
        desired = (
            w.Desired("bulk", phones=[str(k) for k in keys])
            if wire.type == "bulk"
            else w.Desired("custom", ids=[int(str(k)) for k in keys])
        )
        with self._created.writing(keys):
            fresh, _ = self._write_settings(segment_id, wire.name or "", desired, wire, False)
        return MemberSet(keys=w.member_order(fresh), context=fresh)


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the 66text adapter."""
    register(NotificatorProvider)
