"""A stateful fake of the allstechnology e-mail API (``shared/providers/API-SPEC.md`` Part 2).

Routes below ``/api/`` (headers ``PublicKey``/``SecretKey``): ``GET segment/list``,
``GET segment/email/list?segment_id=``, ``POST segment/email/store`` (multipart or urlencoded),
``DELETE segment/email/delete?segment_recipient_id=``, ``DELETE segment/delete?segment_id=``,
plus ``GET contacts-type``, ``contacts-type/view``, ``contacts/list`` and ``reserve-fields``.

Documented (API-SPEC 2.1 to 2.3): the envelopes, the missing-header error dict, the required-field
messages of recipient store, "Record not found" / "Record Not Found", the ``errors``-keyed
segment-delete success, ``segment_emails_count``, ISO timestamps with microseconds.
From the vendor's code (API-SPEC 2.7, which supersedes the guesses): wrong keys answered with
the field dict (``"The selected public key is invalid."`` / ``"The selected secret key is
invalid."``, per key that is wrong; ``"… field is required."`` per key that is missing);
with ``rate_limit=60`` (off by default, so volume tests run unthrottled) 60 requests a
minute **per client IP** across every key, failed-auth requests counted,
``X-RateLimit-Limit``/``X-RateLimit-Remaining`` on every answer and, past it, HTTP 429
``{"message":"Too Many Attempts."}`` with ``Retry-After``, ``X-RateLimit-Reset`` (epoch
seconds) and ``Remaining: 0``; HTTP-200 failures carrying an exception message
(:meth:`AllstechPlatform.inject_exception`, optionally *after* the write was applied, so a
store answered that way has an unknown outcome); input HTML-cleaned (tags stripped, then
``htmlspecialchars``: ``Smith & Co`` is listed back as ``Smith &amp; Co``; ``html_clean=False``
turns it off).
Guessed (API-SPEC Unknowns, each switchable where it matters): HTTP 200 for failures
(``failure_status="4xx"`` answers 401/404/422 instead), duplicates allowed
(``reject_duplicates=True`` answers "The email has already been taken."), Laravel's
messages for a bad ``segment_id``/email, ownership checks answering
"Record not found", soft-deleted segments vanishing from the list, the payloads of the
secondary endpoints, Laravel's 429/404/405/503 answers, and (``empty_list_not_found=True``)
"Record not found" for a segment that has no recipients.

Layout (moto's shape): this module holds the options and the seeding protocol,
:mod:`._state` the accounts, segments, recipients and the platform's rules for them (no HTTP),
:mod:`._api` the routes, the limiter and key check, envelopes and error pages.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter

from ._api import AllstechApi, FailureStatus
from ._state import AllstechAccount, AllstechState, Answer, html_clean, stamp

__all__ = [
    "AllstechAccount",
    "AllstechPlatform",
    "AllstechState",
    "Answer",
    "FailureStatus",
    "html_clean",
]


class AllstechPlatform(AllstechApi):
    """Stateful fake of the allstechnology e-mail API (see the module docstring for what is
    documented and what is guessed). ``default`` is the default account.

    Options: ``failure_status`` (``"200"``, the documented HTTP-200 failures, or ``"4xx"``),
    ``reject_duplicates``, ``empty_list_not_found``, ``html_clean`` (the vendor's input
    cleaning, on by default), ``rate_limit``/``rate_window`` (Laravel's ``throttle:api``,
    off by default; ``rate_limit=60`` is the vendor's) and ``clock`` (epoch seconds for
    ``X-RateLimit-Reset``; inject one to cross a window without sleeping).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        failure_status: FailureStatus = "200",
        reject_duplicates: bool = False,
        empty_list_not_found: bool = False,
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        clock: Callable[[], float] = time.time,
        html_clean: bool = True,
    ) -> None:
        if failure_status not in ("200", "4xx"):
            raise ValueError("failure_status must be '200' or '4xx'")
        self.failure_status = failure_status
        # Laravel's throttle:api, keyed by client IP (API-SPEC 2.7). Off by default (None) so
        # volume tests of other suites run unthrottled.
        self.limiter = FixedWindowLimiter(rate_limit, rate_window, clock) if rate_limit else None
        self.clock = clock
        self._rng = random.Random(seed)
        AllstechState.__init__(
            self,
            reject_duplicates=reject_duplicates,
            empty_list_not_found=empty_list_not_found,
            clean_html=html_clean,
        )
        FakePlatform.__init__(self, seed=seed)
        self.default = self.add_account()

    # ------------------------------------------------------------------ seeding

    def add_account(
        self, public_key: str | None = None, secret_key: str | None = None
    ) -> AllstechAccount:
        """Create an account (random keys unless given) and return it."""
        with self.lock:
            return self.new_account(
                public_key or self.new_key(self._rng), secret_key or self.new_key(self._rng)
            )

    def add_segment(
        self,
        name: str,
        select_field: Iterable[str] = (),
        select_operator: Iterable[str] = (),
        value: Iterable[str] = (),
        query_type: str | None = None,
        contact_type_id: int = 1,
        *,
        account: AllstechAccount | None = None,
        created_at: datetime | None = None,
    ) -> int:
        """Seed a segment as the web UI would create it; returns its id."""
        with self.lock:
            return self.new_segment(
                (account or self.default).user_id,
                name,
                [str(x) for x in select_field],
                [str(x) for x in select_operator],
                [str(x) for x in value],
                query_type,
                contact_type_id,
                stamp(created_at),
            ).id

    def add_recipient(
        self,
        segment_id: int | str,
        email: str,
        first_name: str | None = None,
        last_name: str | None = None,
        **extra: Any,
    ) -> int:
        """Store one recipient in a segment (no checks, duplicates kept); returns its id."""
        with self.lock:
            seg = self.segments[int(segment_id)]
            return self.insert_recipient(seg, email, first_name, last_name, **extra)

    def inject_exception(
        self, route: str = "segment/email/store", message: str | None = None, *, applied: bool
    ) -> None:
        """Make the next request to ``route`` fail as the vendor's controllers do on an
        unexpected exception: HTTP 200 ``{"status":"failed","errors":"<exception message>"}``
        (API-SPEC 2.7). ``applied=True`` performs the write first (the exception came after
        it, e.g. while building the answer), so the caller cannot tell from the answer whether
        the store happened."""
        with self.lock:
            self.queue_exception(route, message, applied)

    # -- the standard seeding protocol

    def dsn_for(self, base_url: str, account: Any = None) -> str:
        acc: AllstechAccount = account or self.default
        scheme = "allstech+http" if base_url.startswith("http://") else "allstech"
        return f"{scheme}://{acc.public_key}:{acc.secret_key}@{base_url.split('://', 1)[1]}"

    def bad_dsn(self, base_url: str) -> str:
        wrong = AllstechAccount(0, "0" * 32, "f" * 32)
        return self.dsn_for(base_url, wrong)

    def seed_segment(self, name: str, recipients: Iterable[Any] = ()) -> str:
        sid = self.add_segment(name)
        for r in recipients:
            self.add_recipient(sid, r.email, r.first_name, r.last_name)
        return str(sid)

    def member_identities(self, segment_id: str) -> list[str]:
        with self.lock:
            seg = self.segments[int(segment_id)]
            return [self.recipients[i].email.lower() for i in seg.emails]

    def segment_ids(self) -> list[str]:
        with self.lock:
            return [
                str(s.id)
                for s in self.segments.values()
                if s.user_id == self.default.user_id and s.deleted_at is None
            ]
