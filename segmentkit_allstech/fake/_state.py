"""State of the allstech fake: accounts, segments and their recipients, and the platform's
rules for them (API-SPEC Part 2; 2.7, from the vendor's code, wins over the guesses): the key
check, ownership, soft delete, recipient-store validation with HTML cleaning, the optional
duplicate refusal and "Record not found" for an empty segment, injected exceptions.

Nothing here knows about HTTP (no werkzeug): every operation returns an :class:`Answer` — the
envelope's content and, for a failure, which kind it is — and :mod:`._api` writes it as the
platform's JSON with the status the fake's ``failure_status`` option gives that kind.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "AllstechAccount",
    "AllstechState",
    "Answer",
    "FailureKind",
    "StoredRecipient",
    "StoredSegment",
    "html_clean",
    "stamp",
]

#: Which failure an answer is; :mod:`._api` maps each to an HTTP status (200 by default).
FailureKind = Literal["auth", "not_found", "validation", "exception"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_TAGS = re.compile(r"<[^>]*>")
_GONE_AWAY = "SQLSTATE[HY000]: General error: 2006 MySQL server has gone away"


def html_clean(value: str) -> str:
    """The vendor's input cleaning as far as API-SPEC 2.7 tells (likely, not verified): tags
    stripped, then ``htmlspecialchars`` (ENT_QUOTES): ``&`` → ``&amp;``, ``"`` → ``&quot;``,
    ``'`` → ``&#039;``, a leftover ``<``/``>`` → ``&lt;``/``&gt;``."""
    return html.escape(_TAGS.sub("", value), quote=True).replace("&#x27;", "&#039;")


def stamp(when: datetime | None = None) -> str:
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
class StoredSegment:
    """A segment row as the web UI stores it (API-SPEC 2.3)."""

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
        """The row as ``segment/list`` shows it, with ``segment_emails_count``."""
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
class StoredRecipient:
    """A segment recipient row (API-SPEC 2.3); its ``id`` is the ``segment_recipient_id``."""

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
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)

    def wire(self) -> dict[str, Any]:
        """The row as ``segment/email/list`` shows it."""
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


@dataclass(frozen=True)
class Answer:
    """What the platform answers: ``payload`` under ``key`` (``"message"``; segment delete
    puts its success under ``"errors"``, API-SPEC 2.5.1) when ``failure`` is ``None``, else
    ``payload`` as the ``errors`` of a failure of that kind."""

    payload: Any
    failure: FailureKind | None = None
    key: str = "message"

    @property
    def ok(self) -> bool:
        """Whether this is a ``"status": "success"`` answer."""
        return self.failure is None


def _failed(errors: Any, kind: FailureKind) -> Answer:
    return Answer(errors, kind)


class AllstechState:
    """Accounts, segments and recipients, and the operations of the API on them.

    ``reject_duplicates`` refuses an e-mail already in the segment ("The email has already
    been taken.", a guess: Unknowns 10 allows duplicates); ``empty_list_not_found`` answers
    "Record not found" for a segment without recipients (a guess); ``clean_html`` applies
    the vendor's input cleaning to stored names (API-SPEC 2.7).
    """

    def __init__(
        self,
        *,
        reject_duplicates: bool = False,
        empty_list_not_found: bool = False,
        clean_html: bool = True,
    ) -> None:
        self.reject_duplicates = reject_duplicates
        self.empty_list_not_found = empty_list_not_found
        self.clean_html = clean_html
        self.accounts: dict[str, AllstechAccount] = {}  # public key -> account
        self.segments: dict[int, StoredSegment] = {}
        self.recipients: dict[int, StoredRecipient] = {}
        self.exceptions: list[tuple[str, str, bool]] = []  # (route, message, applied)
        self._next_user = 6790
        self._next_segment = 1
        self._next_recipient = 1

    # ------------------------------------------------------------------ records

    def new_account(self, public_key: str, secret_key: str) -> AllstechAccount:
        """Store an account with the next user id."""
        account = AllstechAccount(self._next_user, public_key, secret_key)
        self._next_user += 1
        self.accounts[account.public_key] = account
        return account

    def new_segment(
        self,
        user_id: int,
        name: str,
        select_field: list[str],
        select_operator: list[str],
        value: list[str],
        query_type: str | None,
        contact_type_id: int,
        created_at: str,
    ) -> StoredSegment:
        """Store a segment as the web UI makes it (the API cannot, API-SPEC 2.4)."""
        seg = StoredSegment(
            id=self._next_segment,
            user_id=user_id,
            contact_type_id=contact_type_id,
            segment_name=name,
            select_field=select_field,
            select_operator=select_operator,
            value=value,
            query_type=query_type,
            created_at=created_at,
            updated_at=created_at,
        )
        self._next_segment += 1
        self.segments[seg.id] = seg
        return seg

    def insert_recipient(
        self,
        seg: StoredSegment,
        email: str,
        first_name: str | None,
        last_name: str | None,
        **extra: Any,
    ) -> int:
        """Append a recipient row to ``seg`` (no checks, duplicates kept); returns its id."""
        rec = StoredRecipient(
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

    def queue_exception(self, route: str, message: str | None, applied: bool) -> None:
        """The next call of ``route`` fails as the vendor's controllers do on an exception
        (API-SPEC 2.7), after performing the write when ``applied``."""
        self.exceptions.append((route, message or _GONE_AWAY, applied))

    def take_exception(self, route: str) -> tuple[str, bool] | None:
        """The queued exception for ``route`` (message, applied), removed; or ``None``."""
        for i, (r, message, applied) in enumerate(self.exceptions):
            if r == route:
                del self.exceptions[i]
                return message, applied
        return None

    # ------------------------------------------------------------------ the API's rules

    def authenticate(self, public: str, secret: str) -> AllstechAccount | Answer:
        """The vendor's key middleware (API-SPEC 2.7): both keys validated like form
        fields — ``required``, then ``exists`` — so each missing key says "field is
        required" and each wrong one "The selected … is invalid."; an inactive account's
        public key counts as wrong."""
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
            return _failed(errors, "auth")
        return account

    def own_segment(self, account: AllstechAccount, raw_id: str | None) -> StoredSegment | None:
        """The account's live segment with id ``raw_id``; other accounts' segments do not
        exist for it (Unknowns 10), nor do soft-deleted ones."""
        sid = (raw_id or "").strip()
        seg = self.segments.get(int(sid)) if sid.isdigit() else None
        if seg is None or seg.user_id != account.user_id or seg.deleted_at is not None:
            return None
        return seg

    def segment_list(self, account: AllstechAccount) -> Answer:
        """``segment/list``: the account's live segments, newest first (the docs' example)."""
        mine = [
            s
            for s in self.segments.values()
            if s.user_id == account.user_id and s.deleted_at is None
        ]
        mine.sort(key=lambda s: s.id, reverse=True)
        return Answer({"segments": [s.wire(len(s.emails)) for s in mine]})

    def recipient_list(self, account: AllstechAccount, raw_sid: str | None) -> Answer:
        """``segment/email/list``: every recipient of one segment, one answer (Unknowns 8)."""
        seg = self.own_segment(account, raw_sid)
        if seg is None or (not seg.emails and self.empty_list_not_found):
            return _failed("Record not found", "not_found")  # lower-case, API-SPEC 2.5.3
        return Answer({"contactEmails": [self.recipients[i].wire() for i in seg.emails]})

    def store_recipient(self, account: AllstechAccount, form: Mapping[str, str]) -> Answer:
        """``segment/email/store``: Laravel's validation of the form (API-SPEC 2.3), the
        ownership check, the optional duplicate refusal, then the row."""
        errors: dict[str, list[str]] = {}
        raw_sid = (form.get("segment_id") or "").strip()
        if not raw_sid:
            errors["segment_id"] = ["The segment id field is required."]
        elif not re.fullmatch(r"-?\d+", raw_sid):
            errors["segment_id"] = ["The segment id must be an integer."]
        first = (form.get("first_name") or "").strip()
        last = (form.get("last_name") or "").strip()
        email = (form.get("email") or "").strip()
        if self.clean_html:
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
            return _failed(errors, "validation")
        seg = self.own_segment(account, raw_sid)
        if seg is None:
            return _failed("Record not found", "not_found")
        if self.reject_duplicates and any(
            self.recipients[i].email.lower() == email.lower() for i in seg.emails
        ):
            return _failed({"email": ["The email has already been taken."]}, "validation")
        failure = self.take_exception("segment/email/store")
        if failure is not None and not failure[1]:
            return _failed(failure[0], "exception")
        self.insert_recipient(seg, email, first, last)
        if failure is not None:
            # Stored, then an exception: HTTP 200 "failed" although the write happened.
            return _failed(failure[0], "exception")
        return Answer("Added Successfully")

    def delete_recipient(self, account: AllstechAccount, raw_id: str | None) -> Answer:
        """``segment/email/delete``: by ``segment_recipient_id`` alone (API-SPEC 2.3)."""
        raw = (raw_id or "").strip()
        rec = self.recipients.get(int(raw)) if raw.isdigit() else None
        if rec is None or rec.user_id != account.user_id:
            return _failed("Record Not Found", "not_found")  # title case, API-SPEC 2.5.3
        failure = self.take_exception("segment/email/delete")
        if failure is not None and not failure[1]:
            return _failed(failure[0], "exception")
        del self.recipients[rec.id]
        self.segments[rec.segment_id].emails.remove(rec.id)
        if failure is not None:
            return _failed(failure[0], "exception")
        return Answer("Deleted Successfully")

    def delete_segment(self, account: AllstechAccount, raw_id: str | None) -> Answer:
        """``segment/delete``: a soft delete (guess, API-SPEC 2.3) whose success message
        sits under ``"errors"`` (API-SPEC 2.5.1)."""
        seg = self.own_segment(account, raw_id)
        if seg is None:
            return _failed("Record Not Found", "not_found")
        seg.deleted_at = seg.updated_at = stamp()
        return Answer("Deleted Successfully", key="errors")

    # -- secondary endpoints: only their first key is documented (API-SPEC 2.4)

    @staticmethod
    def _contact_type(account: AllstechAccount) -> dict[str, Any]:
        return {"id": 1, "user_id": account.user_id, "name": "Default"}

    def contact_types(self, account: AllstechAccount) -> Answer:
        """``contacts-type``: the one default contact type."""
        return Answer({"contactTypes": [self._contact_type(account)]})

    def contact_type(self, account: AllstechAccount, raw_id: str | None) -> Answer:
        """``contacts-type/view``: the default contact type, or "Record not found"."""
        if raw_id != "1":
            return _failed("Record not found", "not_found")
        return Answer({"contactType": self._contact_type(account)})

    def contacts(self, account: AllstechAccount) -> Answer:
        """``contacts/list``: empty (segment recipients are not contacts here)."""
        return Answer({"contacts": []})

    def reserve_fields(self, account: AllstechAccount) -> Answer:
        """``reserve-fields``: the built-in fields rules refer to by id (API-SPEC 2.3)."""
        fields = [
            {"id": 14, "name": "Created Date", "type": "date"},
            {"id": 17, "name": "Age", "type": "number"},
        ]
        return Answer({"reservedFields": fields})
