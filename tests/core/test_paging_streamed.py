"""``walk_pages`` over streamed answers (issue 14): pages cut from one answer are not
remembered item by item, so a 200k-member listing walks in flat memory, while paged answers
keep every protection against a platform repeating itself."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from segmentkit.errors import UnexpectedResponseError
from segmentkit.http.paging import RepeatGuard, walk_pages
from segmentkit.models import Page

PAGE = 1_000


def _pages(n: int, *, streamed: bool, size: int = PAGE) -> Callable[[Any], Page[dict[str, str]]]:
    """``n`` distinct items served ``size`` at a time, marked as one streamed answer or not."""
    extra = {"streamed": True} if streamed else {}

    def fetch(token: Any) -> Page[dict[str, str]]:
        start = 0 if token is None else token
        stop = min(n, start + size)
        items = [{"id": f"member-{i:07d}"} for i in range(start, stop)]
        return Page(items=items, next_page=stop if stop < n else None, extra=extra)

    return fetch


def _peak(fetch: Callable[[Any], Page[Any]]) -> tuple[int, int]:
    """(items walked, tracemalloc peak in bytes while walking)."""
    count = 0
    tracemalloc.start()
    try:
        for page in walk_pages(fetch):
            count += len(page.items)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_streamed_answer_is_walked_without_remembering_its_items() -> None:
    small_n, small_peak = _peak(_pages(20_000, streamed=True))
    big_n, big_peak = _peak(_pages(200_000, streamed=True))
    assert (small_n, big_n) == (20_000, 200_000)
    # Flat: ten times the items, not more memory than a few pages' worth.
    assert big_peak <= small_peak + 2 * 2**20, (small_peak, big_peak)
    # The same walk over a paged answer remembers every key (what the bound above excludes).
    paged_n, paged_peak = _peak(_pages(200_000, streamed=False))
    assert paged_n == 200_000
    assert paged_peak > big_peak + 10 * 2**20, (paged_peak, big_peak)


def test_repeats_within_a_streamed_page_are_still_dropped() -> None:
    def fetch(token: Any) -> Page[dict[str, str]]:
        if token is None:
            items = [{"id": "1"}, {"id": "2"}, {"id": "1"}]
            return Page(items=items, next_page=2, extra={"streamed": True})
        return Page(items=[{"id": "3"}, {"id": "3"}], extra={"streamed": True})

    ids = [it["id"] for page in walk_pages(fetch) for it in page.items]
    assert ids == ["1", "2", "3"]


def test_a_paged_answer_repeating_a_page_still_stops_the_walk() -> None:
    calls = 0

    def fetch(token: Any) -> Page[dict[str, str]]:
        nonlocal calls
        calls += 1
        assert calls <= 5, "the walk did not stop"
        return Page(items=[{"id": "1"}, {"id": "2"}], next_page=calls, total_pages=10**9)

    pages = walk_pages(fetch)
    assert [it["id"] for it in next(pages).items] == ["1", "2"]
    with pytest.raises(UnexpectedResponseError, match="repeats items already listed"):
        next(pages)


def test_a_paged_answer_overlapping_a_previous_page_yields_each_item_once() -> None:
    def fetch(token: Any) -> Page[dict[str, str]]:
        if token is None:
            return Page(items=[{"id": "1"}, {"id": "2"}], next_page=2)
        return Page(items=[{"id": "2"}, {"id": "3"}])

    ids = [it["id"] for page in walk_pages(fetch) for it in page.items]
    assert ids == ["1", "2", "3"]


def test_only_a_true_streamed_flag_turns_the_memory_off() -> None:
    def fetch(token: Any) -> Page[dict[str, str]]:
        if token is None:
            return Page(items=[{"id": "1"}], next_page=2, extra={"streamed": "yes"})
        return Page(items=[{"id": "1"}], extra={"streamed": "yes"})

    pages = walk_pages(fetch)
    next(pages)
    with pytest.raises(UnexpectedResponseError):
        next(pages)


def test_the_repeat_guard_still_remembers_every_page() -> None:
    guard = RepeatGuard(provider="p")
    assert guard.fresh([1, 2]) == [1, 2]
    assert guard.fresh([2, 3]) == [3]
    with pytest.raises(UnexpectedResponseError, match="repeats"):
        guard.fresh([1, 3])
