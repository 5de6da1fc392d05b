"""membership.resolve: search-or-scan, by-id-or-scan gathering, find-or-create with the lookup
handed to the write, and the ledger of objects created for a write (issue 11 §2.3), driven by
in-memory stubs that count their calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from segmentkit.errors import SegmentkitError, ServerError
from segmentkit.membership.resolve import (
    Created,
    find_by_key,
    find_or_create_many,
    gather,
    with_note,
)

ITEMS = [{"id": i, "phone": f"+3933100000{i:02d}"} for i in range(1, 31)]


def _pages(items: list[dict[str, object]], size: int, log: list[str]):
    def pages() -> Iterator[Sequence[dict[str, object]]]:
        for start in range(0, len(items), size):
            log.append(f"page {start // size + 1}")
            yield items[start : start + size]

    return pages


def test_find_by_key_searches_a_few_keys_one_by_one() -> None:
    log: list[str] = []

    def search(key: str) -> tuple[list[dict[str, object]], bool]:
        log.append(f"search {key}")
        return [i for i in ITEMS if i["phone"] == key], True

    got = find_by_key(
        ["+393310000003", "+399999999999"],
        key_of=lambda i: str(i["phone"]),
        search=search,
        pages=_pages(ITEMS, 10, log),
    )
    assert got == {"+393310000003": ITEMS[2]}
    assert log == ["search +393310000003", "search +399999999999"]  # no page scan


def test_find_by_key_scans_once_the_server_ignores_the_search() -> None:
    log: list[str] = []

    def search(key: str) -> tuple[list[dict[str, object]], bool]:
        log.append("search")
        return ITEMS[:10], False  # answered everything: the filter was ignored

    got = find_by_key(
        ["+393310000012", "+393310000004"],
        key_of=lambda i: str(i["phone"]),
        search=search,
        pages=_pages(ITEMS, 10, log),
    )
    assert set(got) == {"+393310000012", "+393310000004"}
    # the ignored search's items count; the scan stops at the page with the last key
    assert log == ["search", "page 1", "page 2"]


def test_find_by_key_with_many_keys_scans_only_until_all_are_found() -> None:
    log: list[str] = []
    keys = [f"+3933100000{i:02d}" for i in range(1, 9)]
    got = find_by_key(
        keys, key_of=lambda i: str(i["phone"]), search=None, pages=_pages(ITEMS, 5, log)
    )
    assert sorted(got) == keys
    assert log == ["page 1", "page 2"]
    assert find_by_key([], key_of=lambda i: i, pages=_pages(ITEMS, 5, log)) == {}
    assert log == ["page 1", "page 2"]  # nothing wanted: no request


def _scan(log: list[str], size: int = 10) -> Iterator[tuple[list[dict[str, object]], int]]:
    pages = [ITEMS[s : s + size] for s in range(0, len(ITEMS), size)]
    for n, page in enumerate(pages, 1):
        log.append(f"page {n}")
        yield page, len(pages) - n


def _getter(log: list[str]):
    def get_one(ident: int) -> dict[str, object] | None:
        log.append(f"get {ident}")
        return next((i for i in ITEMS if i["id"] == ident), None)

    return get_one


def test_gather_one_id_is_one_get() -> None:
    log: list[str] = []
    want = {7}
    got = list(
        gather(
            want,
            want,
            key_of=lambda i: i["id"],
            id_of=lambda i: i["id"],
            get_one=_getter(log),
            scan=_scan(log),
        )
    )
    assert [i["id"] for i in got] == [7]
    assert log == ["get 7"]
    assert want == set()


def test_gather_scans_then_switches_to_gets_when_fewer_ids_than_pages_are_left() -> None:
    log: list[str] = []
    want = {1, 2, 3, 25}
    got = list(
        gather(
            want,
            want,
            key_of=lambda i: i["id"],
            id_of=lambda i: i["id"],
            get_one=_getter(log),
            scan=_scan(log),
        )
    )
    assert sorted(i["id"] for i in got) == [1, 2, 3, 25]
    # page 1 found 1-3; one id left < two pages left: fetched by id
    assert log == ["page 1", "get 25"]


def test_gather_matches_by_key_and_reports_what_has_no_object() -> None:
    log: list[str] = []
    want: set[object] = {"+393310000002", "+390000000000"}
    ids: set[int] = set()  # nothing linked by id: only the scan can find them
    got = list(
        gather(
            want,
            ids,
            key_of=lambda i: i["phone"],
            id_of=lambda i: i["id"],
            get_one=_getter(log),
            scan=_scan(log),
        )
    )
    assert [i["id"] for i in got] == [2]
    assert want == {"+390000000000"}  # left: no object has it
    assert log == ["page 1", "page 2", "page 3"]


def test_gather_a_gone_id_is_skipped() -> None:
    log: list[str] = []
    want = {99}
    assert (
        list(
            gather(
                want,
                want,
                key_of=lambda i: i["id"],
                id_of=lambda i: i["id"],
                get_one=_getter(log),
                scan=_scan(log),
            )
        )
        == []
    )
    assert log == ["get 99"]


def test_find_or_create_many_finds_once_and_hands_each_create_its_lookup() -> None:
    store = {"a": 1}
    finds: list[list[str]] = []

    def find(keys: Sequence[str]) -> dict[str, int]:
        finds.append(list(keys))
        return {k: store[k] for k in keys if k in store}

    def create(key: str, lookup) -> int | str:
        if key == "bad":
            return "refused"
        store[key] = 10 + len(store)  # applied ...
        return lookup()  # ... and the answer lost: the lookup finds it

    got = find_or_create_many(["a", "b", "a", "bad"], find, create)
    assert got == {"a": 1, "b": 11, "bad": "refused"}
    assert finds == [["a", "b", "bad"], ["b"]]
    assert find_or_create_many([], find, create) == {}
    assert len(finds) == 2  # nothing asked: nothing found


def test_created_names_what_a_failed_write_kept_and_forgets_it() -> None:
    created = Created()
    created.record(7, 7, "+393310000007")
    created.record(8, 8)
    with pytest.raises(ServerError) as info, created.writing(["+393310000007", 8]):
        raise ServerError("boom", provider="p", status_code=500)
    assert "boom; contact 7, contact 8 were created for this add and kept" in str(info.value)
    assert info.value.status_code == 500
    assert created == {}


def test_created_says_nothing_when_nothing_was_created_or_the_write_worked() -> None:
    created = Created()
    created.record(5, 5, "+393310000005")
    with pytest.raises(SegmentkitError) as info, created.writing([6]):
        raise SegmentkitError("plain")
    assert str(info.value) == "plain"
    with created.writing([5]):
        pass
    assert created == {}


def test_with_note_keeps_the_class_and_details() -> None:
    err = with_note(ServerError("down", provider="p", status_code=503, retry_after=2.0), "n")
    assert type(err) is ServerError
    assert (err.messages, err.status_code, err.retry_after) == (["down; n"], 503, 2.0)
    assert str(with_note(SegmentkitError("x"), "y")) == "x; y"
