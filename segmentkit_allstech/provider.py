"""``allstech``: the allstechnology e-mail marketing API (mail.allstechnology.com).

Quirks handled here, each explained in ``shared/providers/API-SPEC.md`` Part 2: success is
decided by the body's ``status``, not the HTTP code (2.2); the payload is under ``message``, or
under ``errors`` for segment delete (2.2, 2.5.1); lists are unpaginated (Unknown 8); segments
are created in the web UI only (2.4); recipients are added one POST at a time (2.3).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from segmentkit.adapter import AlreadyMember, PerMemberStore, Provider
from segmentkit.errors import (
    APIError,
    AuthenticationError,
    InvalidRecipientError,
    NotFoundError,
    UnexpectedResponseError,
    ValidationError,
    error_class_for_status,
)
from segmentkit.hookspecs import hookimpl
from segmentkit.http import ErrorRules, RateLimit, Unpaged, messages_from_body
from segmentkit.models import (
    Operator,
    Page,
    Recipient,
    Rule,
    Segment,
    SegmentKind,
    SegmentQuery,
    normalize_email,
)

__all__ = ["AllstechProvider"]


# ---------------------------------------------------------------------------- wire models


def _string_list(value: Any) -> Any:
    """``select_field``/``select_operator``/``value`` are JSON arrays of strings (API-SPEC
    2.3); accept null, a JSON-encoded array in a string, or a bare scalar as well."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value]
        value = decoded if isinstance(decoded, list) else [value]
    if isinstance(value, list):
        return ["" if v is None else str(v) for v in value]
    return [str(value)]


class _WireSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    user_id: int | None = None
    contact_type_id: int | None = None
    segment_name: str
    select_field: list[str] = Field(default_factory=list)
    select_operator: list[str] = Field(default_factory=list)
    value: list[str] = Field(default_factory=list)
    query_type: str | None = None
    deleted_at: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    segment_emails_count: int | None = None

    _lists = field_validator("select_field", "select_operator", "value", mode="before")(
        _string_list
    )


class _WireSegments(BaseModel):
    model_config = ConfigDict(extra="ignore")
    segments: list[dict[str, Any]]


class _WireRecipient(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    segment_id: int | None = None
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    address_line1: str | None = None


class _WireRecipients(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contactEmails: list[dict[str, Any]]  # noqa: N815 - the platform's key


# ---------------------------------------------------------------------------- mapping

# API-SPEC 2.3 documents "is after" and "is between"; the rest is the SendGrid-style guess of
# Unknowns 4. Anything else becomes Operator.other with the native operator kept.
_OPERATORS: dict[str, Operator] = {
    "is": Operator.equals,
    "is not": Operator.not_equals,
    "contains": Operator.contains,
    "does not contain": Operator.not_contains,
    "is greater than": Operator.greater_than,
    "is less than": Operator.less_than,
    "is after": Operator.after,
    "is before": Operator.before,
    "is between": Operator.between,
}
_SPACES = re.compile(r"\s+")
_MEMBERS = "message.contactEmails.item"  # where segment/email/list puts members (API-SPEC 2.3)
_PAGE = 1000  # members per Page of a streamed listing
_OPEN_STREAMS = 4  # listings left half-read keep at most this many connections open
_ALPHA2 = re.compile(r"^[A-Za-z]{2}$")


def _rules(wire: _WireSegment) -> tuple[Rule, ...]:
    """The parallel arrays become rules; a between condition consumes two entries of
    ``value`` (API-SPEC 2.3, 2.5.8)."""
    rules: list[Rule] = []
    values = wire.value
    pos = 0
    for i, field_id in enumerate(wire.select_field):
        native = wire.select_operator[i] if i < len(wire.select_operator) else ""
        op = _OPERATORS.get(_SPACES.sub(" ", native.strip().lower()), Operator.other)
        take = 2 if op is Operator.between else 1
        taken = values[pos : pos + take]
        pos += take
        if op is Operator.between and len(taken) != 2:
            op = Operator.other  # a malformed between keeps what it had, natively
        rules.append(
            Rule(
                field=field_id or "?",
                operator=op,
                values=tuple(taken),
                native_operator=native or "?",
            )
        )
    return tuple(rules)


def _shown(text: str | None) -> str | None:
    """The platform HTML-cleans what it stores (tags stripped, then ``htmlspecialchars``,
    API-SPEC 2.7): ``Smith & Co`` is listed back as ``Smith &amp; Co``. Names are shown as
    they were typed; ``raw`` keeps the stored text."""
    return html.unescape(text) if text and "&" in text else text


def _to_segment(wire: _WireSegment, raw: dict[str, Any]) -> Segment:
    # Membership is the explicit email list of segment/email/list, so the segment is static;
    # the rules only record how it was built in the web UI (API-SPEC 2.3, 2.4).
    query_type = (wire.query_type or "").strip().lower()
    # Values come out of the wire model already validated: no second validation.
    return Segment._trusted(
        id=str(wire.id),
        provider="allstech",
        name=html.unescape(wire.segment_name),
        kind=SegmentKind.static,
        rules=_rules(wire),
        match="any" if query_type in ("or", "any") else "all",
        recipient_count=wire.segment_emails_count,
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        extra={
            "contact_type_id": wire.contact_type_id,
            "user_id": wire.user_id,
            "query_type": wire.query_type,
            "deleted_at": wire.deleted_at,
        },
        raw=raw,
    )


def _to_recipient(wire: _WireRecipient, raw: dict[str, Any]) -> Recipient:
    attributes: dict[str, str] = {}
    email: str | None = None
    if wire.email:
        try:
            email = normalize_email(wire.email)
        except InvalidRecipientError:
            # The web UI may hold addresses our validator refuses; keep them visible.
            attributes["email"] = wire.email
    country: str | None = None
    if wire.country and _ALPHA2.match(wire.country.strip()):
        country = wire.country.strip().upper()
    elif wire.country:
        attributes["country"] = wire.country
    for key in ("state", "city", "address_line1"):
        value = getattr(wire, key)
        if value:
            attributes[key] = str(value)
    if wire.contact_id is not None:
        attributes["contact_id"] = str(wire.contact_id)
    # email comes out of normalize_email above: no second validation of it.
    return Recipient._trusted(
        id=str(wire.id),
        email=email,
        first_name=_shown(wire.first_name),
        last_name=_shown(wire.last_name),
        country=country,
        attributes=attributes,
        raw=raw,
    )


# ---------------------------------------------------------------------------- errors

# "Any unauthorised answer, whatever the wording" (API-SPEC Unknowns 3 only guesses it).
_AUTH_WORDS = (
    r"(?i)unauthori[sz]ed|unauthenticated|forbidden|access denied|not allowed|permission"
    r"|invalid\b.*\bkey|\bkey\b.*\b(invalid|wrong|incorrect|not match)|wrong\b.*\bkey"
    r"|(public|secret) ?key"
)
_TAKEN = re.compile(r"already (been )?taken|already exists|duplicate", re.IGNORECASE)


def _succeeded(body: Any) -> bool:
    """API-SPEC 2.2: success is the body's ``status``, not the HTTP code (failures come as
    HTTP 200 ``"status": "failed"``). An empty body is left to the core ("empty answer")."""
    return body is None or (isinstance(body, Mapping) and body.get("status") == "success")


def _keep_status(response: requests.Response, body: Any) -> APIError | None:
    """429 and 5xx keep their class whatever the body says, so that pacing, retries and
    outcome reconciliation work (API-SPEC 2.7: Laravel's throttle and error pages)."""
    status = response.status_code
    if status != 429 and status < 500:
        return None
    messages, fields = messages_from_body(body)
    return error_class_for_status(status)(messages=messages, field_errors=fields)


# A failing HTTP-200 envelope no rule names (e.g. ``"errors": "SQLSTATE[HY000]…"``, the
# vendor's controllers answering an exception, API-SPEC 2.7) is UnexpectedResponseError: for a
# write that is an unknown outcome, which the membership engine reconciles by re-reading.
ERRORS = ErrorRules(
    classify=_keep_status,
    success=_succeeded,
    # Missing or wrong keys come back as a field dict (API-SPEC 2.7); the other fields of
    # segment/email/store are input validation (API-SPEC 2.3).
    fields={
        "publickey": AuthenticationError,
        "secretkey": AuthenticationError,
        "PublicKey": AuthenticationError,
        "SecretKey": AuthenticationError,
        "public_key": AuthenticationError,
        "secret_key": AuthenticationError,
        "segment_id": ValidationError,
        "segment_recipient_id": ValidationError,
        "first_name": ValidationError,
        "last_name": ValidationError,
        "email": ValidationError,
    },
    # "Record not found" / "Record Not Found" (API-SPEC 2.3, 2.5.3).
    messages=((r"(?i)\bnot found\b", NotFoundError), (_AUTH_WORDS, AuthenticationError)),
    status={403: AuthenticationError, 410: NotFoundError},
)


# ---------------------------------------------------------------------------- adapter


class AllstechProvider(Provider, PerMemberStore):
    """Adapter for the allstechnology e-mail marketing API (API-SPEC Part 2).

    Segments are listed, read and deleted; they are created and changed in the web app only.
    Recipients are listed, added one request each and removed by segment recipient id: a
    :class:`~segmentkit.adapter.stores.PerMemberStore` (the engine sends concurrently and
    reconciles by re-reading the segment before any re-send).
    """

    name = "allstech"
    display_name = "allstechnology e-mail"
    channel = "email"
    default_base_url = "https://mail.allstechnology.com/api/"
    fake = "segmentkit_allstech.fake:AllstechPlatform"
    secret_headers = frozenset({"publickey", "secretkey"})
    max_page_size = None
    # 60 requests/minute per client IP, shared by every key used from it (API-SPEC 2.7).
    rate_limit = RateLimit(60, 60.0, scope="host")
    # Every list is one unpaginated answer (API-SPEC Unknowns 8).
    paging = Unpaged()
    errors = ERRORS

    class Credentials(BaseModel):
        """``public_key`` and ``secret_key`` from the account page (``PublicKey`` and
        ``SecretKey`` headers, API-SPEC 2.1). DSN: ``allstech://PUBLIC:SECRET@host``."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        public_key: SecretStr
        secret_key: SecretStr

    class Settings(BaseModel):
        """Fill-ins for the names the platform requires on every recipient it stores
        (API-SPEC 2.3: ``first_name`` and ``last_name`` are required)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        default_first_name: str | None = None
        default_last_name: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_streams: dict[int, Iterator[Recipient]] = {}
        self._ids = itertools.count(1)

    # -- transport hooks

    def auth_headers(self) -> dict[str, str]:
        return {"PublicKey": self.secret("public_key"), "SecretKey": self.secret("secret_key")}

    # -- segments

    def _segments(self) -> list[Segment]:
        body = self.http.get("segment/list")
        payload = body.get("message") if isinstance(body, Mapping) else None
        listing = self.parse(_WireSegments, payload, what="segment list")
        out = []
        for raw in listing.segments:
            wire = self.parse(_WireSegment, raw, what="segment")
            if wire.deleted_at is None:  # soft-deleted rows should not be listed anyway
                out.append(_to_segment(wire, raw))
        return out

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        # One unpaginated list (API-SPEC Unknowns 8): search, type, dates and order are applied
        # client-side with the reference semantics, so they match every other platform.
        segments = self._segments()
        self.page_fetched("segments", 1, len(segments), 1)
        items = query.apply(segments)
        return Page(items=items, page=1, total_pages=1, total=len(items), next_page=None)

    def get_segment(self, segment_id: str) -> Segment:
        # There is no single-segment endpoint (API-SPEC 2.3): find it in the list.
        for seg in self._segments():
            if seg.id == segment_id.strip():
                return seg
        raise NotFoundError(f"segment {segment_id} not found", provider=self.name)

    def delete_segment(self, segment_id: str) -> None:
        # Success arrives under "errors" (API-SPEC 2.2, 2.5.1); a retried delete that finds
        # "Record Not Found" was applied by the lost attempt.
        sid = self._int_id(segment_id)
        self.http.delete("segment/delete", params={"segment_id": sid}, gone_ok=True)

    # -- recipients

    def _int_id(self, segment_id: str) -> str:
        sid = str(segment_id).strip()
        if not sid.isdigit():
            raise NotFoundError(
                f"segment {segment_id!r} not found (allstech segment ids are integers)",
                provider=self.name,
            )
        return sid

    def _members(self, segment_id: str) -> Iterator[Recipient]:
        """Every member, streamed: ``segment/email/list`` answers the whole segment as one
        document (API-SPEC 2.3, Unknowns 8), read item by item in flat memory."""
        sid = self._int_id(segment_id)
        items = self.http.get_items(
            "segment/email/list", params={"segment_id": sid}, prefix=_MEMBERS
        )
        try:
            first = next(items, None)
        except NotFoundError:
            # "Record not found" is documented for an unknown segment (API-SPEC 2.3); should
            # the platform say the same for a segment with no recipients, the segment exists.
            if any(s.id == sid for s in self._segments()):
                return
            raise
        if first is None:
            return
        for raw in itertools.chain((first,), items):
            if not isinstance(raw, dict):
                raise UnexpectedResponseError(
                    "unexpected recipient list format: contactEmails holds a non-object",
                    provider=self.name,
                )
            yield _to_recipient(self.parse(_WireRecipient, raw, what="recipient"), raw)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        # One streamed answer served as pages of _PAGE members: the token names the open
        # stream, so the listing never holds more than one page (issue 14).
        if page is None:
            key = next(self._ids)
            stream = self._members(segment_id)
            number = 1
        else:
            key, number = page
            found = self._open_streams.pop(key, None)
            if found is None:
                raise UnexpectedResponseError(
                    "this member listing was left unread too long (its stream was closed); "
                    "list the segment again",
                    provider=self.name,
                )
            stream = found
        items = list(itertools.islice(stream, _PAGE))
        next_page: tuple[int, int] | None = None
        if len(items) == _PAGE:
            self._keep_stream(key, stream)
            next_page = (key, number + 1)
        elif isinstance(stream, Generator):
            stream.close()
        self.page_fetched("recipients", number, len(items), None)
        return Page(items=items, page=number, next_page=next_page)

    def _keep_stream(self, key: int, stream: Iterator[Recipient]) -> None:
        streams = self._open_streams
        streams[key] = stream
        while len(streams) > _OPEN_STREAMS:  # abandoned listings: close their connections
            oldest = next(iter(streams))
            gen = streams.pop(oldest, None)
            if isinstance(gen, Generator):
                gen.close()

    def _names(self, recipient: Recipient) -> tuple[str | None, str | None]:
        first, last = recipient.first_name, recipient.last_name
        if (not first or not last) and recipient.name:
            parts = recipient.name.split()
            if len(parts) == 2:
                first, last = first or parts[0], last or parts[1]
        settings = self.settings
        first = first or getattr(settings, "default_first_name", None)
        last = last or getattr(settings, "default_last_name", None)
        return first, last

    def recipient_problem(self, recipient: Recipient) -> str | None:
        # first_name and last_name are required by segment/email/store (API-SPEC 2.3).
        first, last = self._names(recipient)
        missing = [n for n, v in (("first name", first), ("last name", last)) if not v]
        if not missing:
            return None
        return (
            f"allstech requires a {' and a '.join(missing)} for every recipient; set "
            "first_name/last_name, a two-part name, or the default_first_name/"
            "default_last_name settings"
        )

    # -- membership primitives (API-SPEC 2.3: one request per member)

    def members_by_identity(self, segment_id: str) -> Mapping[str, Sequence[str]]:
        by_email: dict[str, list[str]] = {}
        for m in self._members(segment_id):
            if m.email and m.id:
                # The platform may hold duplicates (Unknowns 10): every copy is listed.
                by_email.setdefault(m.email.lower(), []).append(m.id)
        return by_email

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        first, last = self._names(recipient)
        form = {
            "segment_id": (None, self._int_id(segment_id)),
            "first_name": (None, first or ""),
            "last_name": (None, last or ""),
            "email": (None, recipient.email or ""),
        }
        try:
            # files= makes requests send multipart/form-data, as every documented example
            # (API-SPEC 2.1). A POST: sent once, the engine re-reads before any re-send (an
            # HTTP-200 "SQLSTATE…" failure is such an unknown outcome, API-SPEC 2.7).
            self.http.post("segment/email/store", files=form)
        except ValidationError as exc:
            if any(_TAKEN.search(m) for ms in exc.field_errors.values() for m in ms):
                raise AlreadyMember(str(exc)) from None
            raise

    def remove_member(self, segment_id: str, member_id: str) -> None:
        # Deletion is by segment_recipient_id alone (API-SPEC 2.3); the engine only passes ids
        # it read from this segment. "Record Not Found" on a retry means the lost first attempt
        # removed it; on the first attempt it means already gone (NotFoundError).
        self.http.delete(
            "segment/email/delete", params={"segment_recipient_id": member_id}, gone_ok=True
        )


@hookimpl
def segmentkit_register_providers(register: Any) -> None:
    """Register the allstech adapter."""
    register(AllstechProvider)
