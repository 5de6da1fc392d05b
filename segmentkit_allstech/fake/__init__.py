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
"""

from __future__ import annotations

import html
import math
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter, json_response

__all__ = ["AllstechAccount", "AllstechPlatform"]

FailureStatus = Literal["200", "4xx"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_STATUS = {"auth": 401, "not_found": 404, "validation": 422, "exception": 200}
_TAGS = re.compile(r"<[^>]*>")


def html_clean(value: str) -> str:
    """The vendor's input cleaning as far as API-SPEC 2.7 tells (likely, not verified): tags
    stripped, then ``htmlspecialchars`` (ENT_QUOTES): ``&`` → ``&amp;``, ``"`` → ``&quot;``,
    ``'`` → ``&#039;``, a leftover ``<``/``>`` → ``&lt;``/``&gt;``."""
    return html.escape(_TAGS.sub("", value), quote=True).replace("&#x27;", "&#039;")


def _stamp(when: datetime | None = None) -> str:
    """Laravel's JSON timestamp: ISO-8601 UTC with microseconds (API-SPEC 2.0)."""
    when = when or datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class AllstechAccount:
    """One account: its user id and key pair."""

    user_id: int
    public_key: str
    secret_key: str
    active: bool = True

    def __repr__(self) -> str:
        return f"AllstechAccount(user_id={self.user_id}, keys=***)"


@dataclass
class _Segment:
    id: int
    user_id: int
    contact_type_id: int
    segment_name: str
    select_field: list[str]
    select_operator: list[str]
    value: list[str]
    query_type: str | None
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    emails: list[int] = field(default_factory=list)  # recipient ids, in insertion order

    def wire(self, count: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "contact_type_id": self.contact_type_id,
            "segment_name": self.segment_name,
            "select_field": list(self.select_field),
            "select_operator": list(self.select_operator),
            "value": list(self.value),
            "query_type": self.query_type,
            "deleted_at": self.deleted_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "segment_emails_count": count,
        }


@dataclass
class _Recipient:
    id: int
    user_id: int
    segment_id: int
    first_name: str | None
    last_name: str | None
    email: str
    contact_id: int | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    address_line1: str | None = None
    created_at: str = field(default_factory=_stamp)
    updated_at: str = field(default_factory=_stamp)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "segment_id": self.segment_id,
            "contact_id": self.contact_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "country": self.country,
            "state": self.state,
            "city": self.city,
            "address_line1": self.address_line1,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "fullname": f"{self.first_name or ''} {self.last_name or ''}".strip(),
        }


class AllstechPlatform(FakePlatform):
    """Stateful fake of the allstechnology e-mail API (see the module docstring for what is
    documented and what is guessed). ``default`` is the default account."""

    provider = "allstech"
    base_path = "/api/"
    secret_headers = frozenset({"publickey", "secretkey", "authorization"})

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
        # Laravel's throttle:api, keyed by client IP (API-SPEC 2.7); the clock gives epoch
        # seconds for X-RateLimit-Reset, inject one to cross a window without sleeping.
        # Off by default (None) so volume tests of other suites run unthrottled; pass
        # rate_limit=60 for the vendor's limiter and headers.
        self.limiter: FixedWindowLimiter | None = (
            FixedWindowLimiter(rate_limit, rate_window, clock) if rate_limit else None
        )
        self.clock = clock
        self.html_clean = html_clean
        self._exceptions: list[tuple[str, str, bool]] = []  # (route, message, applied)
        self.failure_status = failure_status
        self.reject_duplicates = reject_duplicates
        self.empty_list_not_found = empty_list_not_found
        self._rng = random.Random(seed)
        self.accounts: dict[str, AllstechAccount] = {}  # public key -> account
        self.segments: dict[int, _Segment] = {}
        self.recipients: dict[int, _Recipient] = {}
        self._next_user = 6790
        self._next_segment = 1
        self._next_recipient = 1
        super().__init__(seed=seed)
        self.default = self.add_account()

    # ------------------------------------------------------------------ seeding

    def add_account(
        self, public_key: str | None = None, secret_key: str | None = None
    ) -> AllstechAccount:
        """Create an account (random keys unless given) and return it."""
        with self.lock:
            account = AllstechAccount(
                user_id=self._next_user,
                public_key=public_key or self.new_key(self._rng),
                secret_key=secret_key or self.new_key(self._rng),
            )
            self._next_user += 1
            self.accounts[account.public_key] = account
            return account

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
            stamp = _stamp(created_at)
            seg = _Segment(
                id=self._next_segment,
                user_id=(account or self.default).user_id,
                contact_type_id=contact_type_id,
                segment_name=name,
                select_field=[str(x) for x in select_field],
                select_operator=[str(x) for x in select_operator],
                value=[str(x) for x in value],
                query_type=query_type,
                created_at=stamp,
                updated_at=stamp,
            )
            self._next_segment += 1
            self.segments[seg.id] = seg
            return seg.id

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
            rec = _Recipient(
                id=self._next_recipient,
                user_id=seg.user_id,
                segment_id=seg.id,
                first_name=first_name,
                last_name=last_name,
                email=email,
                **extra,
            )
            self._next_recipient += 1
            self.recipients[rec.id] = rec
            seg.emails.append(rec.id)
            return rec.id

    def inject_exception(
        self, route: str = "segment/email/store", message: str | None = None, *, applied: bool
    ) -> None:
        """Make the next request to ``route`` fail as the vendor's controllers do on an
        unexpected exception: HTTP 200 ``{"status":"failed","errors":"<exception message>"}``
        (API-SPEC 2.7). ``applied=True`` performs the write first (the exception came after
        it, e.g. while building the answer), so the caller cannot tell from the answer whether
        the store happened."""
        with self.lock:
            self._exceptions.append(
                (
                    route,
                    message or "SQLSTATE[HY000]: General error: 2006 MySQL server has gone away",
                    applied,
                )
            )

    def _take_exception(self, route: str) -> tuple[str, bool] | None:
        for i, (r, message, applied) in enumerate(self._exceptions):
            if r == route:
                del self._exceptions[i]
                return message, applied
        return None

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

    # ------------------------------------------------------------------ envelopes

    @staticmethod
    def _success(payload: Any, key: str = "message") -> Response:
        return json_response({"status": "success", key: payload})

    def _failed(self, errors: Any, kind: str) -> Response:
        # Unknowns 2: HTTP 200 with "status": "failed" unless the 4xx switch is on.
        status = 200 if self.failure_status == "200" else _STATUS[kind]
        return json_response({"status": "failed", "errors": errors}, status)

    def rate_limited(self, retry_after: float) -> Response:
        # An injected 429 (faults): Laravel's body and headers, the fault's own (possibly
        # sub-second) Retry-After, so fault matrices stay fast; no epoch Reset.
        return json_response(
            {"message": "Too Many Attempts."},
            429,
            {
                "Retry-After": f"{retry_after:g}",
                "X-RateLimit-Limit": str(self.limiter.limit if self.limiter else 60),
                "X-RateLimit-Remaining": "0",
            },
        )

    def throttled(self, retry_after: float) -> Response:
        """The limiter's own 429: Laravel's ThrottleRequests answer to a JSON client
        (API-SPEC 2.7): whole-second Retry-After, X-RateLimit-Reset as an epoch timestamp,
        Remaining 0."""
        wait = max(1, math.ceil(retry_after))
        return json_response(
            {"message": "Too Many Attempts."},
            429,
            {
                "X-RateLimit-Limit": str(self.limiter.limit if self.limiter else 60),
                "X-RateLimit-Remaining": "0",
                "Retry-After": str(wait),
                "X-RateLimit-Reset": str(int(self.clock()) + wait),
            },
        )

    def server_error(self, status: int) -> Response:
        if status == 503:  # Laravel maintenance mode answers JSON to a JSON client (guess)
            return json_response({"message": "Service Unavailable"}, 503)
        if status == 500:  # Laravel's production error page
            body = (
                '<!DOCTYPE html><html lang="en"><head><title>Server Error</title></head>'
                '<body><div class="code">500</div><div class="message">Server Error</div>'
                "</body></html>"
            )
        else:  # the nginx in front of it
            reason = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(status, "Error")
            body = (
                f"<html><head><title>{status} {reason}</title></head><body><center><h1>"
                f"{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
            )
        return Response(body, status=status, content_type="text/html; charset=UTF-8")

    def not_found(self, request: Request) -> Response:
        rel = self.relative(request.path)
        allowed = [m for m in ("GET", "POST", "DELETE") if self._find(m, rel)[0] is not None]
        if allowed:
            return json_response(
                {
                    "message": f"The {request.method.upper()} method is not supported for route "
                    f"api/{rel}. Supported methods: {', '.join(allowed)}."
                },
                405,
            )
        return json_response({"message": f"The route api/{rel} could not be found."}, 404)

    # ------------------------------------------------------------------ routes

    def setup_routes(self) -> None:
        api = self._throttled
        self.route("GET", r"segment/list", api(self.list_segments))
        self.route("GET", r"segment/email/list", api(self.list_recipients))
        self.route("POST", r"segment/email/store", api(self.store_recipient))
        # API-SPEC 2.5.2: the docs' URL has a stray space; the real path has none.
        self.route("DELETE", r"segment/email/delete", api(self.delete_recipient))
        self.route("DELETE", r"segment/delete", api(self.delete_segment))
        self.route("GET", r"contacts-type", api(self.contact_types))
        self.route("GET", r"contacts-type/view", api(self.contact_type))
        self.route("GET", r"contacts/list", api(self.contacts))
        self.route("GET", r"reserve-fields", api(self.reserve_fields))

    def _throttled(self, handler: Callable[[Request], Response]) -> Callable[..., Response]:
        """Laravel's ``throttle:api`` before the key check: per client IP, across keys,
        failed-auth requests counted; Limit/Remaining on every answer (API-SPEC 2.7)."""

        def wrapped(request: Request) -> Response:
            if self.limiter is None:
                return handler(request)
            allowed, remaining, reset = self.limiter.hit(request.remote_addr or "?")
            if not allowed:
                return self.throttled(reset)
            resp = handler(request)
            resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
            resp.headers["X-RateLimit-Remaining"] = str(remaining)
            return resp

        return wrapped

    def _auth(self, request: Request) -> AllstechAccount | Response:
        """The vendor's key middleware (API-SPEC 2.7): both headers validated like form
        fields — ``required``, then ``exists`` — so each missing key says "field is
        required" and each wrong one "The selected … is invalid."; an inactive account's
        public key counts as wrong."""
        public = request.headers.get("PublicKey", "")
        secret = request.headers.get("SecretKey", "")
        errors: dict[str, list[str]] = {}
        account = self.accounts.get(public) if public else None
        if not public:
            errors["PublicKey"] = ["The public key field is required."]
        elif account is None or not account.active:
            errors["PublicKey"] = ["The selected public key is invalid."]
        if not secret:
            errors["SecretKey"] = ["The secret key field is required."]
        else:
            known = (
                account.secret_key == secret
                if account is not None
                else any(a.secret_key == secret for a in self.accounts.values())
            )
            if not known:
                errors["SecretKey"] = ["The selected secret key is invalid."]
        if errors or account is None:
            return self._failed(errors, "auth")
        return account

    def _segment(self, account: AllstechAccount, raw_id: str | None) -> _Segment | None:
        sid = (raw_id or "").strip()
        seg = self.segments.get(int(sid)) if sid.isdigit() else None
        if seg is None or seg.user_id != account.user_id or seg.deleted_at is not None:
            return None  # other accounts' segments do not exist for you (Unknowns 10)
        return seg

    def list_segments(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        mine = [
            s
            for s in self.segments.values()
            if s.user_id == account.user_id and s.deleted_at is None
        ]
        mine.sort(key=lambda s: s.id, reverse=True)  # newest first, as the docs' example
        return self._success({"segments": [s.wire(len(s.emails)) for s in mine]})

    def list_recipients(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        seg = self._segment(account, request.args.get("segment_id"))
        if seg is None:
            return self._failed("Record not found", "not_found")  # lower-case, API-SPEC 2.5.3
        if not seg.emails and self.empty_list_not_found:
            return self._failed("Record not found", "not_found")
        rows = [self.recipients[i].wire() for i in seg.emails]
        return self._success({"contactEmails": rows})

    def store_recipient(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        form = self.form(request)
        errors: dict[str, list[str]] = {}
        raw_sid = (form.get("segment_id") or "").strip()
        if not raw_sid:
            errors["segment_id"] = ["The segment id field is required."]
        elif not re.fullmatch(r"-?\d+", raw_sid):
            errors["segment_id"] = ["The segment id must be an integer."]
        first = (form.get("first_name") or "").strip()
        last = (form.get("last_name") or "").strip()
        email = (form.get("email") or "").strip()
        if self.html_clean:
            # Tags stripped, text escaped; a value that was only a tag is now empty and so
            # "required" (API-SPEC 2.7, likely).
            first, last = html_clean(first).strip(), html_clean(last).strip()
        if not first:
            errors["first_name"] = ["The first name field is required."]
        if not last:
            errors["last_name"] = ["The last name field is required."]
        if not email:
            errors["email"] = ["The email field is required."]
        elif not _EMAIL.match(email):
            errors["email"] = ["The email must be a valid email address."]
        if errors:
            return self._failed(errors, "validation")
        seg = self._segment(account, raw_sid)
        if seg is None:
            return self._failed("Record not found", "not_found")
        if self.reject_duplicates and any(
            self.recipients[i].email.lower() == email.lower() for i in seg.emails
        ):
            return self._failed({"email": ["The email has already been taken."]}, "validation")
        failure = self._take_exception("segment/email/store")
        if failure is not None and not failure[1]:
            return self._failed(failure[0], "exception")
        self.add_recipient(seg.id, email, first, last)
        if failure is not None:
            # Stored, then an exception: HTTP 200 "failed" although the write happened.
            return self._failed(failure[0], "exception")
        return self._success("Added Successfully")

    def delete_recipient(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        raw = (request.args.get("segment_recipient_id") or "").strip()
        rec = self.recipients.get(int(raw)) if raw.isdigit() else None
        if rec is None or rec.user_id != account.user_id:
            return self._failed("Record Not Found", "not_found")  # title case, API-SPEC 2.5.3
        failure = self._take_exception("segment/email/delete")
        if failure is not None and not failure[1]:
            return self._failed(failure[0], "exception")
        del self.recipients[rec.id]
        self.segments[rec.segment_id].emails.remove(rec.id)
        if failure is not None:
            return self._failed(failure[0], "exception")
        return self._success("Deleted Successfully")

    def delete_segment(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        seg = self._segment(account, request.args.get("segment_id"))
        if seg is None:
            return self._failed("Record Not Found", "not_found")
        seg.deleted_at = seg.updated_at = _stamp()  # soft delete (guess, API-SPEC 2.3)
        # API-SPEC 2.5.1: the success message sits under "errors".
        return self._success("Deleted Successfully", key="errors")

    # -- secondary endpoints: only their first key is documented (API-SPEC 2.4)

    def _contact_type(self, account: AllstechAccount) -> dict[str, Any]:
        return {"id": 1, "user_id": account.user_id, "name": "Default"}

    def contact_types(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        return self._success({"contactTypes": [self._contact_type(account)]})

    def contact_type(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        if request.args.get("contact_type_id") != "1":
            return self._failed("Record not found", "not_found")
        return self._success({"contactType": self._contact_type(account)})

    def contacts(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        return self._success({"contacts": []})

    def reserve_fields(self, request: Request) -> Response:
        account = self._auth(request)
        if isinstance(account, Response):
            return account
        fields = [
            {"id": 14, "name": "Created Date", "type": "date"},
            {"id": 17, "name": "Age", "type": "number"},
        ]
        return self._success({"reservedFields": fields})
