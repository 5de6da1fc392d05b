"""Numbered pages inside a JSON envelope: a declaration and the one-page reader.

Many REST APIs (Laravel-style resources, JSON:API) answer ``?page=N`` with
``{"data": [...], "meta": {"total_pages": …, "total": …}, "links": {"next": URL}}``. Builds
differ in which of those parts they send, so :class:`EnvelopePages` declares where each lives
and :meth:`EnvelopePages.read` reads one page: the items, the totals, and the next page — from
``total_pages`` when sent, else from the ``page=N`` query of the ``next`` link.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UnexpectedResponseError
from ..events import PageFetched
from ..models import Page, Segment, SegmentQuery
from .paging import MAX_PAGES, PageNumber, RepeatGuard, _dig
from .session import Session

__all__ = ["EnvelopePage", "EnvelopePages"]

_PAGE_IN_LINK = re.compile(r"[?&]page=(\d+)")


def _ids(items: Iterable[dict[str, Any]], key: str) -> list[int]:
    """The numeric ``key`` of each item that has one, in order."""
    return [int(i) for i in (str(item.get(key)) for item in items) if i.isdigit()]


@dataclass(frozen=True)
class EnvelopePage:
    """One page as read: the raw ``items`` (JSON objects), this page's number, the totals the
    answer gave, and the next page's number (``None``: this was the last)."""

    items: list[dict[str, Any]]
    number: int
    total_pages: int | None
    total: int | None
    next_page: int | None

    def segment_page(self, segments: list[Segment], query: SegmentQuery) -> Page[Segment]:
        """This page's ``segments`` (its items, mapped) as a :class:`Page` numbered like it,
        for a server that may ignore the query's filters and order: when asked they are applied
        here with the reference semantics, and the total is dropped (the server counted the
        unfiltered listing). An order across pages is the client's: it reads every page and
        sorts once."""
        if query.has_filters or query.order_by is not None:
            segments = query.apply(segments)
        total = None if query.has_filters else self.total
        return Page(
            items=segments,
            page=self.number,
            total_pages=self.total_pages,
            total=total,
            next_page=self.next_page,
        )


@dataclass(frozen=True)
class EnvelopePages(PageNumber):
    """:class:`PageNumber` whose answer is an envelope.

    * ``items`` — dotted path of the list of item objects (required in every answer);
    * ``total_pages`` (inherited) — dotted path of the page count; when present it decides
      the last page (no short-page rule: a server may serve fewer items than asked);
    * ``totals`` — dotted paths of the item count, the first present wins;
    * ``next_link`` — dotted path of a URL naming the next page in its query (``?page=N`` or
      ``?&page=N``), used when ``total_pages`` is absent; a link back to this page or an
      earlier one ends the listing. An empty page always ends it.
    """

    items: str = "data"
    totals: tuple[str, ...] = ()
    next_link: str | None = None

    def read(
        self,
        http: Session,
        path: str,
        number: int,
        size: int | None,
        params: Mapping[str, Any] | None = None,
        *,
        resource: str | None = None,
    ) -> EnvelopePage:
        """GET page ``number`` of ``path`` (``size`` items asked for) with extra ``params``;
        emits :class:`~segmentkit.events.PageFetched` as ``resource`` (default ``path``).
        A body without a list of objects at ``items``, or with a non-integer total, is
        :class:`UnexpectedResponseError`."""
        body = http.get(path, params={**(params or {}), **self.params(number, size)})
        items = _dig(body, self.items)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise UnexpectedResponseError(
                f"unexpected {path} list format: {self.items} is not a list of objects",
                provider=http.provider,
                raw_body=http.decoder.excerpt(body),
            )
        total_pages = self._int(http, body, self.total_pages, path)
        total = next(
            (n for n in (self._int(http, body, p, path) for p in self.totals) if n is not None),
            None,
        )
        nxt: int | None = None
        if not items:
            pass
        elif total_pages is not None:
            nxt = self.next_token(number, body, len(items), None)
        elif self.next_link is not None:
            link = _dig(body, self.next_link)
            found = _PAGE_IN_LINK.search(link) if isinstance(link, str) else None
            nxt = int(found.group(1)) if found and int(found.group(1)) > number else None
        transport = http.transport
        if transport.listening:
            transport.emit(
                PageFetched(
                    provider=http.provider,
                    resource=resource or path,
                    page=number,
                    items=len(items),
                    total_pages=total_pages,
                )
            )
        return EnvelopePage(items, number, total_pages, total, nxt)

    def walk(
        self,
        http: Session,
        path: str,
        size: int | None,
        params: Mapping[str, Any] | None = None,
        *,
        resource: str | None = None,
        flat: bool = False,
    ) -> Iterator[EnvelopePage]:
        """Every page of ``path`` from the first, read as the walk goes, each holding only the
        items not listed before; bounded like :func:`~segmentkit.http.paging.walk_pages`
        (:class:`RepeatGuard`: a page served forever stops, issue 12 §4).

        ``flat=True`` keeps memory flat for long listings: only the previous page's items are
        remembered, so an item repeated from it (offset paging shifted by an insert) is
        dropped and a page repeating it whole is :class:`UnexpectedResponseError` (the page
        count stays bounded by ``total_pages`` and by ``MAX_PAGES``)."""
        guard = RepeatGuard(provider=http.provider)
        number: int | None = self.first
        count = 0
        previous: list[dict[str, Any]] = []
        while number is not None:
            page = self.read(http, path, number, size, params, resource=resource)
            count += 1
            if flat:
                if count > MAX_PAGES:
                    raise UnexpectedResponseError(
                        f"the listing goes on past {MAX_PAGES} pages; stopped",
                        provider=http.provider,
                    )
                guard = RepeatGuard(provider=http.provider)  # forget all but the last page
                guard.fresh(previous)
            items = guard.fresh(page.items)
            previous = page.items
            yield dataclasses.replace(page, items=items)
            number = page.next_page

    def search(
        self,
        http: Session,
        path: str,
        value: str,
        field: str,
        params: Mapping[str, Any],
        *,
        size: int | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The first page of a server-side search for ``value`` (``params`` ask for it), and
        whether the server honoured it: the answer fits one page and every item's ``field``
        contains ``value`` (a server may ignore the search and list everything)."""
        page = self.read(http, path, self.first, size, params)
        honoured = page.next_page is None and all(
            value in str(item.get(field) or "") for item in page.items
        )
        return page.items, honoured

    def newest_id(self, http: Session, path: str, *, size: int = 10, key: str = "id") -> int:
        """The highest numeric ``key`` listed so far (0: none), for a listing that shows the
        newest first by default: page 1, and the last page too when page 1 is not descending
        (an account may have chosen another order)."""
        first = self.read(http, path, self.first, size)
        ids = _ids(first.items, key)
        newest = max(ids, default=0)
        if first.total_pages and first.total_pages > 1 and ids != sorted(ids, reverse=True):
            newest = max([newest, *_ids(self.read(http, path, first.total_pages, size).items, key)])
        return newest

    def ids_where(
        self,
        http: Session,
        path: str,
        where: Callable[[dict[str, Any]], bool] | Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        above: int = 0,
        size: int | None = None,
        key: str = "id",
    ) -> list[int]:
        """The numeric ``key`` of every listed item above ``above`` for which ``where(item)``
        holds (a mapping: the item has each of its fields with that exact value), reading
        every page (``params`` may narrow the listing, e.g. a server-side search; ``where``
        re-checks, since a server may ignore it). With ids that only grow, the items a lost
        create made are those above the newest id known before it."""
        if isinstance(where, Mapping):
            fields = dict(where)
            where = lambda item: all(item.get(k) == v for k, v in fields.items())  # noqa: E731
        found: list[int] = []
        for page in self.walk(http, path, size, params):
            for item in page.items:
                ident = str(item.get(key))
                if ident.isdigit() and int(ident) > above and where(item):
                    found.append(int(ident))
        return found

    @staticmethod
    def _int(http: Session, body: Any, where: str | None, path: str) -> int | None:
        value = _dig(body, where) if where else None
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UnexpectedResponseError(
            f"unexpected {path} list format: {where} is {value!r}, not a whole number",
            provider=http.provider,
        )
