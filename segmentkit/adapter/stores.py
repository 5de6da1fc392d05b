"""The three membership shapes a platform can have, as base classes an adapter inherits.

An adapter declares which shape its platform has by inheriting exactly one of
:class:`MemberSetStore`, :class:`PerMemberStore` or :class:`BatchStore` (or none: then the
segment's members cannot be changed through segmentkit). It implements only the short
primitives of that shape; :mod:`segmentkit.membership.engine` owns everything around them —
the per-segment lock, read-modify-write rounds with read-back, reconcile rounds, chunking,
concurrency, progress and every :class:`~segmentkit.models.ItemOutcome`.

The shapes are nominal base classes rather than structural ``Protocol`` s: an adapter *says*
which shape it has (so "exactly one shape" is checkable and a method named by accident never
turns an adapter into a store), and ``BatchStore.max_batch`` is a data member, which
``runtime_checkable`` protocols cannot check with ``issubclass``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from ..http.paging import walk_pages
from ..models import Recipient

__all__ = [
    "STORE_SHAPES",
    "AlreadyMember",
    "BatchStore",
    "ItemResult",
    "MemberSet",
    "MemberSetStore",
    "PerMemberStore",
    "Refusal",
    "first_key",
    "kept_subset",
    "numeric_id",
    "store_shape",
]

#: A member key as the platform stores it (66text: E.164 phone for bulk, contact id for custom).
Key = Hashable
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class MemberSet:
    """A segment's member list as read: ``keys`` in stored order, and ``context``, whatever
    :meth:`MemberSetStore.write_members` needs to re-send with them (e.g. the segment's name
    and type, since 66text replaces ``settings`` whole, API-SPEC 1.6)."""

    keys: tuple[Key, ...]
    context: Any = None


@dataclass(frozen=True)
class Refusal:
    """Why one recipient cannot become (or be matched to) a member key."""

    reason: str


def first_key(
    recipients: Sequence[Recipient],
    *ways: Callable[[Recipient], K | Refusal | None],
    otherwise: Callable[[Recipient], K | Refusal | None] = lambda r: None,
) -> list[K | Refusal | None]:
    """:meth:`MemberSetStore.member_keys`' usual shape: for each recipient the first of
    ``ways`` (tried in order: e.g. by phone, then by id) that gives a key or a
    :class:`Refusal`, else ``otherwise(recipient)`` (``None``: it names no member)."""
    out: list[K | Refusal | None] = []
    for r in recipients:
        found = next((k for way in ways if (k := way(r)) is not None), None)
        out.append(found if found is not None else otherwise(r))
    return out


def numeric_id(recipient: Recipient) -> int | None:
    """The recipient's id as an integer when it is all ASCII digits (platforms with numeric
    ids), else ``None``."""
    ident = recipient.id
    return int(ident) if ident and ident.isascii() and ident.isdigit() else None


def kept_subset(
    stored: Collection[Hashable],
    sent: Collection[Hashable],
    before: Collection[Hashable] | None,
    *,
    touched: bool = False,
) -> bool:
    """Whether a read-back ``stored`` holds the keys ``sent`` on a platform that silently
    drops keys it will not keep (unknown, opted out): all of them, or a subset once the
    write visibly took effect — the stored keys differ from ``before`` (those read before the
    write; ``None``: nothing to compare, a subset counts) or ``touched`` (e.g. the segment's
    update stamp moved)."""
    stored_set, sent_set = set(stored), set(sent)
    if stored_set == sent_set:
        return True
    changed = before is None or stored_set != set(before) or touched
    return stored_set <= sent_set and changed


@dataclass(frozen=True)
class ItemResult:
    """A batch endpoint's answer for one item."""

    status: Literal["added", "removed", "unchanged", "rejected", "failed"]
    reason: str | None = None


class AlreadyMember(Exception):  # noqa: N818 - an answer, not a failure
    """Raised by :meth:`PerMemberStore.add_member` when the platform says the recipient is
    already a member (e.g. allstech's "The email has already been taken", API-SPEC 2.3)."""


class MemberSetStore:
    """The platform stores a segment's member list whole and replaces it on every write
    (66text ``bulk``/``custom`` segments, API-SPEC 1.6).

    The engine serialises writers per segment (:func:`segmentkit.membership.segment_lock`),
    reads, merges, writes, reads back and repeats while a concurrent writer changed the list.
    """

    def read_members(self, segment_id: str) -> MemberSet:
        """The current member keys in stored order, with the context a write must re-send.
        Raise :class:`~segmentkit.UnsupportedOperationError` for segments whose members
        cannot be written (e.g. rule-based ones)."""
        raise NotImplementedError

    def member_keys(
        self,
        segment_id: str,
        current: MemberSet,
        recipients: Sequence[Recipient],
        *,
        create: bool,
    ) -> Sequence[Key | Refusal | None]:
        """One entry per recipient: its member key, a :class:`Refusal`, or ``None`` when it
        names nothing that exists (only when ``create`` is false: removal). With ``create``
        the adapter may create what a key needs (e.g. a contact)."""
        raise NotImplementedError

    def write_members(self, segment_id: str, current: MemberSet, keys: Sequence[Key]) -> MemberSet:
        """Replace the list with ``keys`` and return the list as stored afterwards (a read
        back). A write whose outcome is unknown must be reconciled inside
        (``self.http.post(..., retry=Retry.after(lookup))``), never re-sent blindly."""
        raise NotImplementedError


class PerMemberStore:
    """One request per member (allstech, the example platform): implement
    :meth:`add_member` and :meth:`remove_member`; :meth:`members_by_identity` comes from the
    adapter's ``list_recipients``."""

    def members_by_identity(self, segment_id: str) -> Mapping[str, Sequence[str]]:
        """Every member: channel identity (E.164 phone / lower-case email) → the platform's
        member ids for it (a platform may store duplicates, allstech Unknowns 10).

        The default walks the adapter's ``list_recipients`` and groups the members that have
        an id and an identity; override it only where the platform can answer more cheaply
        (the engine calls it once per round)."""
        adapter: Any = self  # a Provider: the shapes are its second base class
        members: dict[str, list[str]] = {}
        for page in walk_pages(
            lambda token: adapter.list_recipients(segment_id, token), provider=adapter.name
        ):
            for member in page.items:
                identity = member.identity(adapter.channel)
                if identity and member.id:
                    members.setdefault(identity, []).append(member.id)
        return members

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        """Store one member. Send it once (a plain ``self.http.post``, which never re-sends
        a write whose outcome is unknown): the engine looks before any re-send. Raise
        :class:`AlreadyMember` when the platform says it is there, an
        :class:`~segmentkit.ValidationError`-like error when it refuses the item,
        anything else when the outcome is unknown."""
        raise NotImplementedError

    def remove_member(self, segment_id: str, member_id: str) -> None:
        """Delete one member by its platform id. :class:`~segmentkit.NotFoundError` means it
        is already gone."""
        raise NotImplementedError


class BatchStore:
    """Idempotent batch endpoints: a re-sent batch cannot duplicate anyone (memory)."""

    #: Most items one batch request may carry.
    max_batch: ClassVar[int] = 100

    def add_batch(self, segment_id: str, recipients: Sequence[Recipient]) -> Sequence[ItemResult]:
        """Add up to :attr:`max_batch` recipients; one result per recipient, in order."""
        raise NotImplementedError

    def remove_batch(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemResult]:
        """Remove up to :attr:`max_batch` recipients; one result per recipient, in order."""
        raise NotImplementedError


STORE_SHAPES: tuple[type, ...] = (MemberSetStore, PerMemberStore, BatchStore)


def store_shape(cls: type) -> type | None:
    """The one membership shape ``cls`` declares, or ``None``. Raises ``TypeError`` when it
    declares more than one."""
    found = [s for s in STORE_SHAPES if issubclass(cls, s)]
    if len(found) > 1:
        raise TypeError(f"{cls.__name__} declares {len(found)} membership shapes; pick one")
    return found[0] if found else None
