"""segmentkit.http.jsonstream: items of one big JSON array, streamed in flat memory."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Iterator

import pytest

from segmentkit.errors import UnexpectedResponseError
from segmentkit.http.jsonstream import backend_name, iter_items

DOC = {
    "status": True,
    "message": {
        "contactEmails": [
            {"id": 1, "email": "a@example.com", "score": 1.25, "tags": ["x", "y"], "n": None},
            {"id": 2, "email": "b\u00e9@example.com", "esc": 'quote " and \\ and \n', "ok": False},
            {"id": 3, "big": 9223372036854775807, "neg": -0.5e-3, "nested": {"a": [{"b": {}}]}},
            [],
            "bare string",
            7,
        ]
    },
}


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_prefers_the_c_backend():
    assert backend_name() == "yajl2_c"


@pytest.mark.parametrize("size", [1, 3, 64, 100_000])
def test_items_equal_json_loads_whatever_the_chunking(size):
    data = json.dumps(DOC).encode()
    got = list(iter_items(_chunks(data, size), "message.contactEmails.item"))
    assert got == DOC["message"]["contactEmails"]
    assert isinstance(got[0]["score"], float)


def test_top_level_array_and_missing_prefix():
    assert list(iter_items([b'[1, 2, {"a": 3}]'], "item")) == [1, 2, {"a": 3}]
    assert list(iter_items([b'{"status": false, "errors": "x"}'], "message.item")) == []


@pytest.mark.parametrize(
    "body",
    [b'{"message": [1, 2,', b'{"message": [1, 2}', b"<html>502</html>", b""],
)
def test_malformed_or_truncated_is_unexpected_response(body):
    with pytest.raises(UnexpectedResponseError, match="malformed or cut short"):
        list(iter_items([body], "message.item", provider="allstech"))


def test_integers_beyond_64_bits_are_refused_not_mangled():
    with pytest.raises(UnexpectedResponseError, match="integer overflow"):
        list(iter_items([b'{"message": [{"id": 18446744073709551616}]}'], "message.item"))


def test_an_oversized_item_is_refused_after_the_good_ones():
    good = [{"id": i} for i in range(3)]
    huge = {"id": 99, "blob": "x" * 300_000}
    data = json.dumps({"message": [*good, huge, {"id": 100}]}).encode()
    seen = []
    with pytest.raises(UnexpectedResponseError, match="larger than 100000 bytes"):
        for item in iter_items(_chunks(data, 8192), "message.item", max_item_bytes=100_000):
            seen.append(item)
    assert seen == good


def test_items_come_before_the_document_ends():
    consumed = []

    def source() -> Iterator[bytes]:
        yield b'{"message": [{"id": 1}, {"id": 2},'
        consumed.append("first")
        for i in range(3, 10_000):  # bounded
            yield f'{{"id": {i}}},'.encode()
        yield b'{"id": 10000}]}'
        consumed.append("all")

    items = iter_items(source(), "message.item")
    assert next(items) == {"id": 1}
    assert consumed == []  # the first item arrived from the first chunk alone
    assert sum(1 for _ in items) == 9_999


def _member_doc(n: int) -> Iterator[bytes]:
    """An allstech-like ``segment/email/list`` answer with ``n`` members, generated in
    pieces (the whole document never exists in memory)."""
    yield b'{"status": true, "message": {"contactEmails": ['
    batch = []
    for i in range(n):
        sep = "," if i else ""
        batch.append(
            f'{sep}{{"id": {i}, "first_name": "First{i}", "email": "user{i:07d}@example.com", '
            f'"state": null, "tags": []}}'
        )
        if len(batch) == 500:
            yield "".join(batch).encode()
            batch.clear()
    yield ("".join(batch) + "]}}").encode()


def _peak_while_iterating(n: int) -> int:
    # The chunks are made before tracing starts: the peak is the parser's alone either way
    # (the generator freed each chunk), and tracemalloc no longer slows making them too.
    chunks = list(_member_doc(n))
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        for item in iter_items(iter(chunks), "message.contactEmails.item"):
            count += item["id"] >= 0
        assert count == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)  # tracemalloc slows allocation-heavy code several times
def test_memory_is_flat_for_200k_members():
    small = _peak_while_iterating(50_000)
    big = _peak_while_iterating(200_000)
    mib = 1024 * 1024
    assert big <= 64 * mib, f"peak {big / mib:.1f} MiB"
    # Flat: four times the members may not cost noticeably more than the 50k run.
    assert big <= small * 1.5 + 1 * mib, f"200k {big / mib:.2f} MiB vs 50k {small / mib:.2f} MiB"
