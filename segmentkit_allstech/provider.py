"""``allstech``: the allstechnology e-mail marketing API (mail.allstechnology.com).

Quirks handled here, each explained in ``shared/providers/API-SPEC.md`` Part 2: success is
decided by the body's ``status``, not the HTTP code (2.2); the payload is under ``message``, or
under ``errors`` for segment delete (2.2, 2.5.1); lists are unpaginated (Unknown 8); segments
are created in the web UI only (2.4); recipients are added one POST at a time (2.3).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from segmentkit.adapter import AlreadyMember, PerMemberStore, Provider
from segmentkit.errors import AuthenticationError, NotFoundError, ValidationError
from segmentkit.hookspecs import hookimpl
from segmentkit.http import ErrorRules, RateLimit, Unpaged
from segmentkit.http.envelope import success_field
from segmentkit.models import Page, Recipient, Segment, SegmentQuery

from .wire import WireRecipient, WireSegment, WireSegments, to_recipient, to_segment

__all__ = ["AllstechProvider"]

_MEMBERS = "message.contactEmails.item"  # where segment/email/list puts members (API-SPEC 2.3)

# "Any unauthorised answer, whatever the wording" (API-SPEC Unknowns 3 only guesses it).
_AUTH_WORDS = (
    r"(?i)unauthori[sz]ed|unauthenticated|forbidden|access denied|not allowed|permission"
    r"|invalid\b.*\bkey|\bkey\b.*\b(invalid|wrong|incorrect|not match)|wrong\b.*\bkey"
    r"|(public|secret) ?key"
)
_TAKEN = re.compile(r"already (been )?taken|already exists|duplicate", re.IGNORECASE)

# Success is the body's "status", not the HTTP code: failures come as HTTP 200 "failed"
# (API-SPEC 2.2). 429 and 5xx keep their class whatever the body says, for pacing, retries and
# reconciliation (2.7: Laravel's throttle and error pages). A failing envelope no rule names
# (e.g. "errors": "SQLSTATE[HY000]…", 2.7) is UnexpectedResponseError: for a write, an unknown
# outcome the membership engine reconciles by re-reading.
ERRORS = ErrorRules(
    success=success_field("status", "success"),
    keep_transient=True,
    # Missing or wrong keys come back as a field dict (2.7); the other fields of
    # segment/email/store are input validation (2.3).
    fields={
        **dict.fromkeys(
            ("publickey", "secretkey", "PublicKey", "SecretKey", "public_key", "secret_key"),
            AuthenticationError,
        ),
        **dict.fromkeys(
            ("segment_id", "segment_recipient_id", "first_name", "last_name", "email"),
            ValidationError,
        ),
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

    # -- transport hooks

    def auth_headers(self) -> dict[str, str]:
        return {"PublicKey": self.secret("public_key"), "SecretKey": self.secret("secret_key")}

    # -- segments

    def _segments(self) -> list[Segment]:
        body = self.http.get("segment/list")
        payload = body.get("message") if isinstance(body, Mapping) else None
        listing = self.parse(WireSegments, payload, what="segment list")
        out = []
        for raw in listing.segments:
            wire = self.parse(WireSegment, raw, what="segment")
            if wire.deleted_at is None:  # soft-deleted rows should not be listed anyway
                out.append(to_segment(wire, raw))
        return out

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        # One unpaginated list (API-SPEC Unknowns 8): the query is applied client-side.
        return self.segments_page(self._segments(), query)

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
            yield to_recipient(self.parse(WireRecipient, raw, what="recipient"), raw)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        # One streamed answer served as pages: never more than one page held (issue 14).
        return self.stream_pages(page, lambda: self._members(segment_id), resource="recipients")

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

    # -- membership primitives (API-SPEC 2.3: one request per member; members_by_identity
    # groups list_recipients, the core's default)

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
