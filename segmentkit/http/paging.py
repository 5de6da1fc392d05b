"""Paging: the bounded page walk, lazy listings and declared paging styles.

A hostile or broken platform cannot make a walk loop or repeat itself: a repeated token, a
page made only of items already seen, or more pages than ``total_pages`` (+1 probe) end it, and
a listing never yields the same item twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import UnexpectedResponseError
from ..models import Page

__all__ = [
    "Cursor",
    "Listing",
    "PageNumber",
    "PagingStyle",
    "RepeatGuard",
    "Unpaged",
    "item_key",
    "walk_pages",
]

T = TypeVar("T")

#: More pages than this claimed by a platform, with repeats, is not a listing but a loop.
MAX_PAGES = 1_000_000


#: Per item type: whether it is a Mapping (the ABC check costs more than the rest of
#: :func:`item_key`, which runs once per listed item).
_MAPPING: dict[type, bool] = {}


def item_key(item: Any) -> Hashable:
    """What makes two listed items "the same": their ``id``, else their identity fields."""
    kind = type(item)
    mapping = _MAPPING.get(kind)
    if mapping is None:
        if len(_MAPPING) > 256:
            _MAPPING.clear()
        mapping = _MAPPING[kind] = isinstance(item, Mapping)
    ident = item.get("id") if mapping else getattr(item, "id", None)
    if ident is not None:
        return ("id", str(ident))
    for name in ("phone", "email"):
        value = getattr(item, name, None)
        if value is not None:
            return (name, str(value))
    try:
        hash(item)
    except TypeError:
        return ("repr", repr(item))
    return ("item", item)


def walk_pages(
    fetch: Callable[[Any], Page[T]],
    *,
    max_pages: int = MAX_PAGES,
    key: Callable[[Any], Hashable] | None = item_key,
    provider: str | None = None,
) -> Iterator[Page[T]]:
    """Yield pages from ``fetch(token)`` starting at ``None`` until ``next_page`` is ``None``.

    Tokens must be immutable and hashable (an unhashable token is compared by ``repr``).
    Bounded: stops on a repeated token, or after ``total_pages`` (+1) or ``max_pages`` pages.
    Items already yielded are dropped from later pages; a page with items that are *all*
    repeats stops the walk with :class:`UnexpectedResponseError` (the platform is answering
    the same page again). ``key=None`` turns item checks off.

    Pages marked ``extra["streamed"]`` (:meth:`Provider.stream_pages
    <segmentkit.adapter.base.Provider.stream_pages>`) are cut from one streamed answer: they
    cannot repeat a previous page, and the answer is finite (the session's answer deadline
    bounds it), so their items are not remembered. Only repeats within such a page are
    dropped, and memory stays flat however long the answer is (issue 14: 200,000 members).
    """
    token: Any = None
    seen_tokens: set[Any] = set()
    seen_items: set[Hashable] = set()
    for count in range(1, max_pages + 1):
        page = fetch(token)
        if key is not None and page.items:
            fresh = []
            # One streamed answer: a set for this page only (see above).
            seen = set() if page.extra.get("streamed") is True else seen_items
            for it in page.items:
                k = key(it)
                if k not in seen:
                    seen.add(k)
                    fresh.append(it)
            if not fresh:
                raise UnexpectedResponseError(
                    f"page {count} of the listing repeats items already listed "
                    f"(total_pages={page.total_pages}); stopped",
                    provider=provider,
                )
            if len(fresh) != len(page.items):
                page = dataclasses.replace(page, items=fresh)
        yield page
        token = page.next_page
        if token is None:
            return
        tkey = token if isinstance(token, str | int | tuple | frozenset) else repr(token)
        if tkey in seen_tokens:
            return
        seen_tokens.add(tkey)
        if page.total_pages is not None and count > page.total_pages:
            return


class RepeatGuard:
    """The bounds of :func:`walk_pages` for a hand-written page loop (an adapter walking raw
    pages, e.g. a name lookup): call :meth:`fresh` with each page's items.

    A page whose items were *all* listed already (a platform answering the same page again,
    whatever ``total_pages`` it claims), or more than ``max_pages`` pages, raise
    :class:`UnexpectedResponseError`; otherwise the items not seen before are returned.
    """

    def __init__(
        self,
        *,
        provider: str | None = None,
        max_pages: int = MAX_PAGES,
        key: Callable[[Any], Hashable] = item_key,
    ) -> None:
        self._provider = provider
        self._max_pages = max_pages
        self._key = key
        self._seen: set[Hashable] = set()
        self.pages = 0

    def fresh(self, items: Iterable[T]) -> list[T]:
        """The items of the next page not listed before; raises on a loop."""
        self.pages += 1
        if self.pages > self._max_pages:
            raise UnexpectedResponseError(
                f"the listing goes on past {self._max_pages} pages; stopped",
                provider=self._provider,
            )
        items = list(items)
        out = []
        for it in items:
            k = self._key(it)
            if k not in self._seen:
                self._seen.add(k)
                out.append(it)
        if items and not out:
            raise UnexpectedResponseError(
                f"page {self.pages} of the listing repeats items already listed; stopped",
                provider=self._provider,
            )
        return out


class Listing(Generic[T]):
    """A lazy listing: iterate it for every item across pages, or call :meth:`pages`.

    Each iteration starts again from the first page; pages are fetched only as needed.
    """

    def __init__(self, fetch: Callable[[Any], Page[T]], *, provider: str | None = None) -> None:
        self._fetch = fetch
        self._provider = provider

    def pages(self) -> Iterator[Page[T]]:
        """Yield one :class:`Page` at a time."""
        return walk_pages(self._fetch, provider=self._provider)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def to_list(self) -> list[T]:
        """Every item, as a list."""
        return list(self)


class PagingStyle:
    """How a platform pages a listing: the query parameters for a token, and the next token."""

    def params(self, token: Any, size: int | None) -> dict[str, Any]:
        """Query parameters asking for the page ``token`` (``None``: the first)."""
        return {}

    def next_token(self, token: Any, body: Any, items: int, size: int | None) -> Any:
        """The token of the page after ``token``, or ``None`` when it was the last."""
        return None


@dataclass(frozen=True)
class Unpaged(PagingStyle):
    """The endpoint answers every item at once."""


@dataclass(frozen=True)
class PageNumber(PagingStyle):
    """Numbered pages: ``?{page}=N&{size}=M``. The last page is known from ``total_pages``
    (a dotted path into the body), else from a short page."""

    page: str = "page"
    size: str | None = None
    first: int = 1
    total_pages: str | None = None

    def params(self, token: Any, size: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {self.page: self.first if token is None else int(token)}
        if self.size and size:
            out[self.size] = size
        return out

    def next_token(self, token: Any, body: Any, items: int, size: int | None) -> Any:
        current = self.first if token is None else int(token)
        if self.total_pages is not None:
            total = _dig(body, self.total_pages)
            try:
                total_n = int(total) if total is not None else None
            except (TypeError, ValueError):
                total_n = None
            if total_n is not None:
                return current + 1 if current - self.first + 1 < total_n else None
        if items == 0 or (size is not None and items < size):
            return None
        return current + 1


@dataclass(frozen=True)
class Cursor(PagingStyle):
    """Opaque cursors: ``?{param}=<cursor>``, the next one at ``next`` (a dotted path)."""

    param: str = "cursor"
    next: str = "next"
    size: str | None = None

    def params(self, token: Any, size: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {} if token is None else {self.param: token}
        if self.size and size:
            out[self.size] = size
        return out

    def next_token(self, token: Any, body: Any, items: int, size: int | None) -> Any:
        value = _dig(body, self.next)
        return value if isinstance(value, str | int) and value != "" else None


def _dig(body: Any, path: str) -> Any:
    cur = body
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur
