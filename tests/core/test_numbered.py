"""http.numbered.EnvelopePages: one page of a page-numbered envelope (items, totals, next page
from total_pages or from a links.next URL) and the bounded walk, driven by a stub session."""

from __future__ import annotations

from typing import Any

import pytest

from segmentkit.errors import UnexpectedResponseError
from segmentkit.events import PageFetched
from segmentkit.http.numbered import EnvelopePages

STYLE = EnvelopePages(
    page="page",
    size="per_page",
    total_pages="meta.total_pages",
    totals=("meta.total", "meta.total_results"),
    next_link="links.next",
)


class _Transport:
    listening = True

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


class _Decoder:
    @staticmethod
    def excerpt(data: Any) -> str:
        return repr(data)[:80]


class StubSession:
    """Answers GET ``path`` from a list of bodies, one per page number."""

    provider = "stub"

    def __init__(self, bodies: dict[int, Any]) -> None:
        self.bodies = bodies
        self.asked: list[dict[str, Any]] = []
        self.transport = _Transport()
        self.decoder = _Decoder()

    def get(self, path: str, *, params: dict[str, Any]) -> Any:
        self.asked.append(dict(params))
        return self.bodies[int(params["page"])]


def _read(bodies: dict[int, Any], number: int = 1) -> Any:
    http = StubSession(bodies)
    return STYLE.read(http, "things", number, 10, {"q": "x"}), http  # type: ignore[arg-type]


def test_total_pages_decides_and_params_are_merged() -> None:
    page, http = _read({1: {"data": [{"id": 1}], "meta": {"total_pages": "2", "total": 11}}})
    assert (page.number, page.total_pages, page.total, page.next_page) == (1, 2, 11, 2)
    assert http.asked == [{"q": "x", "page": 1, "per_page": 10}]
    (event,) = http.transport.events
    assert isinstance(event, PageFetched)
    assert (event.resource, event.page, event.items, event.total_pages) == ("things", 1, 1, 2)


def test_last_page_by_total_pages_even_when_short_pages_came_before() -> None:
    page, _ = _read({2: {"data": [{"id": 1}], "meta": {"total_pages": 2}}}, number=2)
    assert page.next_page is None


@pytest.mark.parametrize("link", ["things?page=3", "things?&page=3", "https://h/x?a=1&page=3"])
def test_without_total_pages_the_next_link_names_the_page(link: str) -> None:
    page, _ = _read(
        {2: {"data": [{"id": 1}], "meta": {"total_results": 5}, "links": {"next": link}}}, 2
    )
    assert (page.next_page, page.total) == (3, 5)


@pytest.mark.parametrize("links", [{"next": None}, {"next": "things?page=2"}, [], "junk"])
def test_no_next_link_or_one_pointing_back_ends_the_listing(links: Any) -> None:
    page, _ = _read({2: {"data": [{"id": 1}], "meta": [], "links": links}}, 2)
    assert page.next_page is None


def test_an_empty_page_ends_the_listing_whatever_it_claims() -> None:
    page, _ = _read({1: {"data": [], "meta": {"total_pages": 9}}})
    assert page.next_page is None


@pytest.mark.parametrize(
    "body",
    [{"data": {"id": 1}}, {"data": [1, 2]}, [], {"data": [{}], "meta": {"total_pages": "x"}}],
)
def test_malformed_answers_are_unexpected_responses(body: Any) -> None:
    with pytest.raises(UnexpectedResponseError, match="things list format"):
        _read({1: body})


def test_walk_reads_every_page_and_stops_on_a_page_served_again() -> None:
    bodies = {
        1: {"data": [{"id": 1}, {"id": 2}], "meta": {"total_pages": 3}},
        2: {"data": [{"id": 2}, {"id": 3}], "meta": {"total_pages": 3}},
        3: {"data": [{"id": 4}], "meta": {"total_pages": 3}},
    }
    http = StubSession(bodies)
    pages = list(STYLE.walk(http, "things", 10))  # type: ignore[arg-type]
    assert [[i["id"] for i in p.items] for p in pages] == [[1, 2], [3], [4]]
    loop = StubSession({n: {"data": [{"id": 1}], "meta": {"total_pages": 99}} for n in range(1, 4)})
    with pytest.raises(UnexpectedResponseError, match="repeats"):
        list(STYLE.walk(loop, "things", 10))  # type: ignore[arg-type]


def test_a_flat_walk_remembers_one_page_and_keeps_the_bounds() -> None:
    shifted = {
        1: {"data": [{"id": 3}, {"id": 2}], "meta": {"total_pages": 2}},
        2: {"data": [{"id": 2}, {"id": 1}], "meta": {"total_pages": 2}},  # shifted by an insert
    }
    pages = list(STYLE.walk(StubSession(shifted), "things", 2, flat=True))  # type: ignore[arg-type]
    assert [[i["id"] for i in p.items] for p in pages] == [[3, 2], [1]]
    same = {n: {"data": [{"id": 1}], "meta": {"total_pages": 50}} for n in range(1, 4)}
    with pytest.raises(UnexpectedResponseError, match="repeats"):
        list(STYLE.walk(StubSession(same), "things", 10, flat=True))  # type: ignore[arg-type]
