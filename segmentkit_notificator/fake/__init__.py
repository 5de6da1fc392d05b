"""A stateful fake of the 66text SMS platform API (API-SPEC Part 1), for tests.

:class:`NotificatorPlatform` serves ``/api/segments`` and ``/api/contacts`` as the platform
does: Bearer auth with 32-hex keys, the ``{"data"}``/``{"errors"}`` envelopes with their exact
titles and codes (401 for missing fields), form bodies only, the 60-requests-per-60-seconds
fixed window with its headers, ``meta``/``links`` paging, empty-body deletes and 201 creates.

Two profiles (``profile=``):

* ``"documented"`` — the newer documented build: list filters and ordering honoured,
  ``meta.total``, ``?page=N`` links, working segment updates (which *replace* ``settings``);
* ``"v2.0.1"`` — what the real v2.0.1 server answered on loopback (API-SPEC 1.11c,
  ``shared/realworld/66text/observed.md``; ``tests/notificator/test_differential.py`` checks it
  against the real server): list filters and ordering ignored, ``meta.total_results``,
  ``meta.page`` echoing the raw query value, ``total_contacts`` as a string in lists,
  ``?&page=N`` / ``?results_per_page=N&page=M`` links, default page size 100 with fallback for
  sizes outside the allowed list, the whole-second limiter window (``X-RateLimit-Reset: 0``
  during its last partial second, no ``Retry-After``/``Remaining`` on 429), an HTML 500
  (``HTTP/1.0``, ``Connection: close``, ``Content-Type: application/json``) for every segment
  update and after every saved contact update, bulk segments storing ``contacts_ids: []``
  without creating contacts, contact creates answering 201 ``id: 0`` for an existing number and
  ``id: 0, phone_number: null`` for an invalid one.

Both profiles: case-sensitive custom-parameter filters, ``custom_parameters: []`` when empty,
HEAD/OPTIONS/PUT/PATCH answering the 404 envelope after auth and counting against the limit,
``/en/api/...`` redirecting to ``/api/...``, JSON written like PHP's ``json_encode``.

Layout (moto's shape): this module holds the options and the seeding protocol,
:mod:`._state` the accounts/contacts/segments and filter semantics (no HTTP),
:mod:`._api` the routes, auth, limiter, envelopes and paging.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from werkzeug.datastructures import MultiDict

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter, ManualClock

from ._api import (
    HTML_500,
    PER_PAGE,
    T_MUST_DELETE,
    T_NO_ACCESS,
    T_NO_BEARER,
    T_NOT_FOUND,
    T_PLAN_LIMIT,
    T_RATE,
    T_REQUIRED,
    NotificatorApi,
    Profile,
    php_json,
)
from ._state import (
    CONDITIONS,
    CONTINENTS,
    Account,
    Contact,
    PlatformState,
    Segment,
    condition_matches,
    country_of,
    get_phone_number,
    utc_now,
)

__all__ = [
    "CONDITIONS",
    "CONTINENTS",
    "HTML_500",
    "PER_PAGE",
    "T_MUST_DELETE",
    "T_NOT_FOUND",
    "T_NO_ACCESS",
    "T_NO_BEARER",
    "T_PLAN_LIMIT",
    "T_RATE",
    "T_REQUIRED",
    "Account",
    "Contact",
    "ManualClock",
    "NotificatorPlatform",
    "Profile",
    "Segment",
    "condition_matches",
    "country_of",
    "get_phone_number",
    "php_json",
    "utc_now",
]


class NotificatorPlatform(NotificatorApi):
    """Stateful fake of a 66text deployment (notificatorsms.com and its sister brands).

    Options: ``profile`` (``"documented"`` or ``"v2.0.1"``), ``create_answer`` (``"full"``
    or ``"id"``), ``rate_limit``/``rate_window`` (the 60/60 s fixed window; scale it down,
    e.g. 30 per 3 s, for multi-worker tests), ``clock`` (the limiter's clock, e.g. a
    :class:`~segmentkit.testing.app.ManualClock`; default ``time.time`` for ``v2.0.1``, whose
    window ends on whole seconds, ``time.monotonic`` otherwise), ``whole_second_window``
    (default: on for ``v2.0.1``), ``segment_update`` (``"ok"``; ``"html500"``: v2.0.1's HTML
    500 with nothing applied, the default for ``v2.0.1``; ``"applied_html500"``: saved, then
    HTML 500), ``seed_type`` (type of segments made by :meth:`seed_segment`), ``api_key``,
    ``default_results_per_page`` (the account preference; 100 for ``v2.0.1`` as observed,
    25 otherwise), ``country_overrides`` (phone → country code where the server's
    libphonenumber metadata differs from the installed ``phonenumbers``).
    """

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
        clock: Callable[[], float] | None = None,
        whole_second_window: bool | None = None,
        default_results_per_page: int | None = None,
        country_overrides: dict[str, str] | None = None,
    ) -> None:
        if profile not in ("documented", "v2.0.1"):
            raise ValueError("profile must be 'documented' or 'v2.0.1'")
        if create_answer not in ("full", "id"):
            raise ValueError("create_answer must be 'full' or 'id'")
        self.profile = profile
        self.create_answer = create_answer
        if segment_update is None:
            segment_update = "html500" if profile == "v2.0.1" else "ok"
        if segment_update not in ("ok", "html500", "applied_html500"):
            raise ValueError("segment_update must be 'ok', 'html500' or 'applied_html500'")
        self.segment_update = segment_update
        self.seed_type = seed_type
        v201 = profile == "v2.0.1"
        whole = v201 if whole_second_window is None else whole_second_window
        if clock is None:
            clock = time.time if whole else time.monotonic
        self.limiter = FixedWindowLimiter(rate_limit, rate_window, clock, whole_seconds=whole)
        if default_results_per_page is None:
            default_results_per_page = 100 if v201 else 25
        if default_results_per_page not in PER_PAGE:
            raise ValueError(f"default_results_per_page must be one of {sorted(PER_PAGE)}")
        self.default_results_per_page = default_results_per_page
        self._rng = random.Random(seed)
        PlatformState.__init__(
            self, api_bulk_links_contacts=not v201, country_overrides=country_overrides
        )
        FakePlatform.__init__(self, seed=seed)
        self.account = self.add_account(api_key)

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
                default_results_per_page=self.default_results_per_page,
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
            return self.insert_contact(
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
        """Seed a segment as if created through the API (so a ``bulk`` one on ``v2.0.1``
        keeps ``contacts_ids: []``, API-SPEC 1.11c); returns its id."""
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
            seg = self.new_segment(
                self._account(account),
                name,
                type,
                form,
                datetime=datetime,
                last_datetime=last_datetime,
            )
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
            return list(self.members_of(self.segments[int(segment_id)]))

    def segment_ids(self) -> list[str]:
        with self.lock:
            uid = self.account.user_id
            return [str(s.id) for s in self.segments.values() if s.user_id == uid]

    def set_opted_out(self, contact_id: int, opted_out: bool = True) -> None:
        """Flip a contact's opt-out (as a STOP/START SMS would)."""
        with self.lock:
            self.contacts[contact_id].has_opted_out = opted_out
