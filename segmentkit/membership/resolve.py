"""Keys → objects with the fewest requests, and find-or-create with reconcile.

Adapters call these from their primitives (e.g. 66text resolving contact ids or creating the
contacts a ``custom`` segment's keys need) instead of re-deriving the cost rule and the
"look before re-sending a create" rule each time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import TypeVar

__all__ = ["fetch_many", "find_or_create"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def fetch_many(
    keys: Iterable[K],
    get_one: Callable[[K], V | None],
    scan: Callable[[], Iterator[Mapping[K, V]]],
    *,
    pages: int | None,
) -> dict[K, V]:
    """The objects for ``keys``: one ``get_one`` per key when that takes fewer requests than
    ``pages`` pages of ``scan``; else the pages, stopping as soon as every key is found.
    ``get_one`` returns ``None`` for a key that does not exist; absent keys are left out."""
    wanted = list(dict.fromkeys(keys))
    found: dict[K, V] = {}
    if not wanted:
        return found
    if pages is not None and len(wanted) <= pages:
        for key in wanted:
            value = get_one(key)
            if value is not None:
                found[key] = value
        return found
    remaining = set(wanted)
    for page in scan():
        for key, value in page.items():
            if key in remaining:
                found[key] = value
                remaining.discard(key)
        if not remaining:
            break
    return found


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
