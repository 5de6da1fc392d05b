"""Keys → objects with the fewest requests, and find-or-create with reconcile.

Adapters call these from their primitives (e.g. 66text resolving contact ids or creating the
contacts a ``custom`` segment's keys need) instead of re-deriving the cost rule, the
search-or-scan choice, the "look before re-sending a create" rule and the "say what was
created and kept when the write fails" rule each time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import APIError, SegmentkitError

__all__ = [
    "Created",
    "Directory",
    "find_by_key",
    "find_or_create",
    "find_or_create_many",
    "gather",
    "with_note",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")
T = TypeVar("T")
I = TypeVar("I", int, str)  # noqa: E741 - a platform id


def find_or_create(
    find: Callable[[], V | None],
    create: Callable[[Callable[[], V | None]], V],
) -> V:
    """The object ``find`` returns, else ``create(reconcile)``'s: ``create`` must pass
    ``reconcile`` (which looks again) to its write, so a create whose answer was lost is
    looked up before it is ever re-sent."""
    hit = find()
    if hit is not None:
        return hit
    return create(find)


def find_by_key(
    keys: Iterable[K],
    *,
    key_of: Callable[[V], K | None],
    pages: Callable[[], Iterator[Sequence[V]]],
    search: Callable[[K], tuple[Sequence[V], bool]] | None = None,
    few: int = 5,
) -> dict[K, V]:
    """The objects with these natural keys (e.g. contacts by phone), by key; absent keys are
    left out.

    Up to ``few`` keys are looked up with one server-side ``search(key)`` each, which returns
    the answer's objects and whether the server honoured the search (a platform may ignore
    the filter and answer everything). As soon as one was not honoured, or for more keys, the
    ``pages()`` of every object are read until each key is found. Objects of any answer count.
    """
    order = list(dict.fromkeys(keys))
    remaining = set(order)
    found: dict[K, V] = {}

    def take(items: Iterable[V]) -> None:
        for item in items:
            key = key_of(item)
            if key is not None and key in remaining:
                found[key] = item
                remaining.discard(key)

    if search is not None and len(remaining) <= few:
        for key in order:
            if key not in remaining:
                continue
            items, honoured = search(key)
            take(items)
            if not honoured:
                break
            remaining.discard(key)  # the server searched: nothing has this key
    if remaining:
        for items in pages():
            take(items)
            if not remaining:
                break
    return found


def gather(
    want: set[K],
    ids: set[I],
    *,
    key_of: Callable[[V], K],
    id_of: Callable[[V], I],
    get_one: Callable[[I], V | None],
    scan: Iterator[tuple[Sequence[V], int]],
) -> Iterator[V]:
    """Yield each object whose key is in ``want`` once, with the fewest requests; found keys
    leave ``want`` (what is left at the end has no object) and found ids leave ``ids``.

    ``ids`` are the platform ids of (some of) the wanted objects (the same set as ``want``
    when objects are wanted by id). They are fetched one
    ``get_one(id)`` each (``None``: gone) when that costs fewer requests than the pages left
    and they are at least as many as the keys still wanted; otherwise ``scan`` is read, one
    ``(objects, pages left after this one)`` at a time, switching to ``get_one`` as soon as
    that becomes cheaper. Before the first page the number of pages is unknown, so ids are
    fetched one by one only when there is at most one.
    """
    if not want:
        return
    if not (len(ids) <= 1 and len(ids) >= len(want)):
        for objects, left in scan:
            for obj in objects:
                key = key_of(obj)
                if key in want:
                    want.discard(key)
                    ids.discard(id_of(obj))
                    yield obj
            if not want:
                return
            if len(ids) < left and len(ids) >= len(want):
                break
        else:
            return
    for ident in sorted(ids):
        fetched = get_one(ident)
        if fetched is not None and key_of(fetched) in want:
            want.discard(key_of(fetched))
            yield fetched
        ids.discard(ident)


def find_or_create_many(
    keys: Iterable[K],
    find: Callable[[Sequence[K]], Mapping[K, V]],
    create: Callable[[K, Callable[[], V | None]], R],
) -> dict[K, V | R]:
    """For each key the object ``find`` returns (one call for all keys), else what
    ``create(key, lookup)`` returns: the object or a refusal. ``lookup`` finds that one key
    again; ``create`` hands it to its write (``Retry.after``) so that a create whose answer
    was lost is looked up before it is ever re-sent. Creates run one at a time, so the
    session paces them to the platform's budget."""
    wanted = list(dict.fromkeys(keys))
    out: dict[K, V | R] = dict(find(wanted)) if wanted else {}
    for key in wanted:
        if key not in out:

            def lookup(key: K = key) -> V | None:
                return find([key]).get(key)

            out[key] = create(key, lookup)
    return out


@dataclass
class Directory(Generic[K, V, I]):
    """One declaration of how a platform's objects (e.g. 66text contacts) are found for member
    keys, wiring :func:`find_by_key`, :func:`gather` and :func:`find_or_create_many` to it:
    ``key_of`` gives an object's natural key (e.g. its E.164 phone) and ``id_of`` its platform
    id; ``get_one(id)`` reads one object (``None``: none has that id); ``pages()`` yields every
    object a page at a time with the number of pages left after it; ``search(key)`` is the
    optional server-side search of :func:`find_by_key`."""

    key_of: Callable[[V], K | None]
    id_of: Callable[[V], I]
    get_one: Callable[[I], V | None]
    pages: Callable[[], Iterator[tuple[Sequence[V], int]]]
    search: Callable[[K], tuple[Sequence[V], bool]] | None = None
    few: int = 5

    def find(self, keys: Iterable[K]) -> dict[K, V]:
        """The objects with these natural keys, by key (:func:`find_by_key`)."""
        pages = self.pages
        return find_by_key(
            keys,
            key_of=self.key_of,
            pages=lambda: (objects for objects, _ in pages()),
            search=self.search,
            few=self.few,
        )

    def gather(self, want: set[Any], ids: set[I], *, by_id: bool = False) -> Iterator[V]:
        """:func:`gather`: each object whose natural key (``by_id``: platform id) is in
        ``want`` once, with the fewest requests."""
        key_of: Callable[[V], Any] = self.id_of if by_id else self.key_of
        return gather(
            want, ids, key_of=key_of, id_of=self.id_of, get_one=self.get_one, scan=self.pages()
        )

    def find_or_create(
        self, wanted: Mapping[K, T], create: Callable[[T, Callable[[], V | None]], V | R]
    ) -> dict[K, V | R]:
        """:func:`find_or_create_many` over ``wanted`` (natural key → what to create it
        from): found with one :meth:`find`, else ``create(wanted[key], lookup)``."""

        def make(key: K, lookup: Callable[[], V | None]) -> V | R:
            return create(wanted[key], lookup)

        return find_or_create_many(wanted, self.find, make)


def with_note(exc: SegmentkitError, note: str) -> SegmentkitError:
    """``exc``'s error class and details, its message followed by ``note``."""
    if isinstance(exc, APIError):
        text = "; ".join(exc.messages)  # the message, or the platform's messages
        return type(exc)(
            f"{text}; {note}" if text else note,
            provider=exc.provider,
            status_code=exc.status_code,
            raw_body=exc.raw_body,
            retry_after=exc.retry_after,
        )
    return SegmentkitError(f"{exc}; {note}")


class Created(dict[Hashable, Hashable]):
    """Objects created while resolving member keys, remembered until the write that needs
    them is done: member key → the created object's id (one object may have several keys,
    e.g. a contact's id and its phone).

    Platforms keep such objects when the member write then fails (66text contacts outlive a
    failed segment update, API-SPEC 1.7), so :meth:`writing` says which were created and kept.
    """

    def record(self, ident: Hashable, *keys: Hashable) -> None:
        """Remember ``ident`` as created for each of ``keys``."""
        for key in keys:
            self[key] = ident

    def settle(self, keys: Iterable[Hashable]) -> list[Hashable]:
        """The ids created for ``keys``, no longer remembered (under any of their keys)."""
        known = dict(self)  # a copy: writes to other segments may record meanwhile
        ids = {known[k] for k in keys if k in known}
        for key in [k for k, v in known.items() if v in ids]:
            self.pop(key, None)
        return sorted(ids, key=lambda i: (len(str(i)), str(i)))

    @contextmanager
    def writing(self, keys: Sequence[Hashable], what: str = "contact") -> Iterator[None]:
        """Around the write of ``keys``: afterwards nothing is remembered for them, and a
        failing write's error is re-raised with a note naming each ``what`` created for
        them and kept."""
        try:
            yield
        except SegmentkitError as exc:
            made = self.settle(keys)
            if not made:
                raise
            kept = ", ".join(f"{what} {ident}" for ident in made)
            verb = "were" if len(made) > 1 else "was"
            raise with_note(
                exc, f"{kept} {verb} created for this add and kept, but not added to the segment"
            ) from exc
        self.settle(keys)
