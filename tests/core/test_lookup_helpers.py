"""Core pieces taken out of the 66text adapter in its third pass (issue 11), driven by stubs:
``ErrorRules.text_status`` and ``envelope.dotted``, ``KeyProof.judge_body``, the session's
``absent_ok``, ``Provider.numeric_path``, ``stores.numeric_id`` / ``kept_subset``,
``EnvelopePages.ids_where`` with a field mapping and ``resolve.Directory``."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests

import segmentkit
from segmentkit.adapter import Provider, Refusal
from segmentkit.adapter.stores import kept_subset, numeric_id
from segmentkit.errors import (
    AuthenticationError,
    NotFoundError,
    ServerError,
    ValidationError,
)
from segmentkit.http.envelope import ErrorRules, dotted
from segmentkit.http.keyproof import KeyProof
from segmentkit.http.numbered import EnvelopePages
from segmentkit.membership.resolve import Directory
from segmentkit.models import Recipient
from tests.hostile._servers import Request, respond, serve

KEY = "look10p-key-0123456789abcdef"

# ------------------------------------------------------------------ dotted / text_status


def _response(status: int, method: str = "POST") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.request = requests.Request(method, "https://x.test/").prepare()
    return r


def test_dotted_reads_mappings_and_list_indices() -> None:
    body = {"errors": [{"title": "t", "status": "401"}], "meta": {"n": 0}}
    assert dotted(body, "errors.0.title") == "t"
    assert dotted(body, "meta.n") == 0
    assert dotted(body, "errors.1.title") is None  # past the end
    assert dotted(body, "errors.x") is None  # a list indexed by a name
    assert dotted(body, "meta.n.deeper") is None  # through a number
    assert dotted(None, "a") is None
    assert dotted(["x"], "0") == "x"


RULES = ErrorRules(
    status={400: ValidationError, 401: AuthenticationError},
    titles={"Fill all fields.": ValidationError},
    success=lambda b: not (isinstance(b, dict) and "errors" in b),
    carried_status="errors.0.status",
    text_status={"401": AuthenticationError},
)


def _body(title: str | None, status: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status}
    if title is not None:
        entry["title"] = title
    return {"errors": [entry, {"title": "second"}]}


@pytest.mark.parametrize(("http", "sent"), [(200, "401"), (401, "401"), (200, " 401 ")])
def test_a_status_sent_as_text_wins_over_titles(http: int, sent: str) -> None:
    error = RULES.error_for(_response(http), _body("Fill all fields.", sent))
    assert type(error) is AuthenticationError
    assert error.status_code == 401
    assert error.messages == ["Fill all fields."]  # the first message only


def test_a_status_sent_as_text_without_a_message_names_the_status() -> None:
    error = RULES.error_for(_response(200), {"errors": [{"status": "401"}]})
    assert type(error) is AuthenticationError
    assert str(error) == "401 HTTP 401"


@pytest.mark.parametrize(
    ("http", "sent", "expected"),
    [
        (200, 401, ValidationError),  # a number: the title decides, as before
        (400, "401", ValidationError),  # another HTTP status: the rule does not apply
        (200, "400", ValidationError),  # not declared as text
        (200, None, ValidationError),
    ],
)
def test_other_statuses_are_left_to_the_usual_rules(
    http: int, sent: Any, expected: type[Exception]
) -> None:
    error = RULES.error_for(_response(http), _body("Fill all fields.", sent))
    assert type(error) is expected


def test_without_text_status_a_text_status_is_a_carried_number() -> None:
    plain = ErrorRules(
        titles={"Fill all fields.": ValidationError},
        success=lambda b: "errors" not in b,
        carried_status="errors.0.status",
    )
    error = plain.error_for(_response(200), _body("Fill all fields.", "401"))
    assert type(error) is ValidationError
    assert error.status_code == 401


# ------------------------------------------------------------------ KeyProof.judge_body


def test_judge_body_reads_the_message_and_the_text_status_by_path() -> None:
    proof = KeyProof(
        auth_messages=("No access",), message_at="errors.0.title", text_status_at="errors.0.status"
    )
    proof.judge_body(_response(200, "GET"), None, {"data": {}})
    assert proof.accepted
    auth = AuthenticationError("x", status_code=401)
    refused = proof.judge_body(_response(401), auth, {"errors": [{"title": "Devi", "status": 401}]})
    assert type(refused) is ValidationError
    assert "Devi" in str(refused)
    # The status as text: about the credentials whatever the message.
    texted = {"errors": [{"title": "Devi", "status": "401"}]}
    assert proof.judge_body(_response(401), auth, texted) is auth
    no_access = {"errors": [{"title": "No access", "status": 401}]}
    assert proof.judge_body(_response(401), auth, no_access) is auth
    refused = proof.judge_body(_response(401), auth, {"errors": []})
    assert type(refused) is ValidationError
    assert "HTTP 401" in str(refused)


def test_judge_body_without_paths_is_judge_with_no_message() -> None:
    proof = KeyProof()
    proof.accepted = True
    auth = AuthenticationError("x", status_code=401)
    refused = proof.judge_body(_response(401), auth, {"errors": [{"status": "401"}]})
    assert type(refused) is ValidationError  # no text_status_at: the text status is not read


# ------------------------------------------------------------------ Session absent_ok


def _answer(status: str, body: bytes) -> Any:
    def handle(req: Request, conn: socket.socket) -> None:
        respond(conn, body, status=status)

    return handle


@pytest.mark.timeout(30)
def test_absent_ok_returns_none_for_a_404_in_one_request() -> None:
    body = b'{"errors": [{"title": "Gone", "status": 404}]}'
    with serve(_answer("404 Not Found", body)) as srv:
        dsn = f"notificator+http://{KEY}@127.0.0.1:{srv.port}/api/"
        with segmentkit.connect(dsn) as c:
            http = c.adapter.http
            assert http.get("contacts/9", absent_ok=True) is None
            assert len(srv.requests) == 1
            with pytest.raises(NotFoundError):
                http.get("contacts/9")


@pytest.mark.timeout(30)
def test_absent_ok_does_not_hide_other_failures() -> None:
    with serve(_answer("400 Bad Request", b'{"errors": [{"title": "Bad"}]}')) as srv:
        dsn = f"notificator+http://{KEY}@127.0.0.1:{srv.port}/api/"
        with segmentkit.connect(dsn) as c, pytest.raises(ValidationError):
            c.adapter.http.get("contacts/9", absent_ok=True)


# ------------------------------------------------------------------ numeric ids


class _Named:
    name = "stub"
    numeric_path = Provider.numeric_path


@pytest.mark.parametrize("ident", ["12a", "", "-1", "1.0", " 1", "\u0661\u0662"])
def test_numeric_path_refuses_what_an_int_cast_would_make_zero(ident: str) -> None:
    with pytest.raises(NotFoundError, match=r"segment id .* is not a number") as info:
        _Named().numeric_path("segments", ident, "segment")
    assert info.value.status_code == 404
    assert info.value.provider == "stub"


def test_numeric_path_joins_a_numeric_id() -> None:
    assert _Named().numeric_path("segments", "0042", "segment") == "segments/0042"


@pytest.mark.parametrize(
    ("ident", "expected"),
    [("42", 42), ("007", 7), (None, None), ("", None), ("4a", None), ("\u0661", None)],
)
def test_numeric_id(ident: str | None, expected: int | None) -> None:
    r = Recipient(id=ident, phone=None if ident else "+393331234567")
    assert numeric_id(r) == expected


# ------------------------------------------------------------------ kept_subset


def test_kept_subset_accepts_all_or_a_visible_subset() -> None:
    assert kept_subset([1, 2], [2, 1], before=[9])
    assert kept_subset([1], [1, 2], before=[9])  # 2 dropped, but the write took effect
    assert not kept_subset([1], [1, 2], before=[1])  # nothing visibly changed
    assert kept_subset([1], [1, 2], before=[1], touched=True)  # the update stamp moved
    assert kept_subset([1], [1, 2], before=None)  # nothing to compare
    assert not kept_subset([1, 3], [1, 2], before=None)  # 3 was never sent
    assert kept_subset([], [], before=[1])


# ------------------------------------------------------------------ ids_where with a mapping


class _Transport:
    listening = False


class _Listing:
    provider = "stub"
    transport = _Transport()

    def __init__(self, pages: dict[int, list[dict[str, Any]]]) -> None:
        self.pages = pages

    def get(self, path: str, *, params: dict[str, Any]) -> Any:
        n = int(params["page"])
        return {"data": self.pages.get(n, []), "meta": {"total_pages": len(self.pages)}}


def test_ids_where_takes_a_mapping_of_exact_field_values() -> None:
    pages = EnvelopePages(page="page", size="per_page", total_pages="meta.total_pages")
    http = _Listing(
        {
            1: [{"id": 12, "name": "a"}, {"id": 13, "name": "A"}, {"id": 14, "name": "a", "t": 1}],
            2: [{"id": 15}, {"id": 3, "name": "a"}],
        }
    )
    got = pages.ids_where(http, "segments", {"name": "a"}, above=10)  # type: ignore[arg-type]
    assert got == [12, 14]
    both = pages.ids_where(http, "segments", {"name": "a", "t": 1})  # type: ignore[arg-type]
    assert both == [14]


# ------------------------------------------------------------------ Directory

Obj = tuple[int, str]  # (platform id, natural key)


class _Book:
    """Objects with ids and keys, paged two at a time; counts what was asked."""

    def __init__(self, objects: list[Obj], honour_search: bool = True) -> None:
        self.objects = objects
        self.honour = honour_search
        self.asked: list[str] = []
        self.created: list[str] = []

    def get_one(self, ident: int) -> Obj | None:
        self.asked.append(f"get {ident}")
        return next((o for o in self.objects if o[0] == ident), None)

    def pages(self) -> Iterator[tuple[Sequence[Obj], int]]:
        chunks = [self.objects[i : i + 2] for i in range(0, len(self.objects), 2)] or [[]]
        for n, chunk in enumerate(chunks):
            self.asked.append(f"page {n + 1}")
            yield chunk, len(chunks) - n - 1

    def search(self, key: str) -> tuple[Sequence[Obj], bool]:
        self.asked.append(f"search {key}")
        if not self.honour:
            return self.objects[:2], False
        return [o for o in self.objects if o[1] == key], True

    def directory(self) -> Directory[str, Obj, int]:
        return Directory(
            key_of=lambda o: o[1],
            id_of=lambda o: o[0],
            get_one=self.get_one,
            pages=self.pages,
            search=self.search,
        )


OBJECTS = [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]


def test_directory_find_searches_few_keys_and_pages_when_search_is_ignored() -> None:
    book = _Book(OBJECTS)
    assert book.directory().find(["c", "zz"]) == {"c": (3, "c")}
    assert book.asked == ["search c", "search zz"]
    ignoring = _Book(OBJECTS, honour_search=False)
    assert ignoring.directory().find(["e", "a"]) == {"e": (5, "e"), "a": (1, "a")}
    assert ignoring.asked == ["search e", "page 1", "page 2", "page 3"]


def test_directory_gather_by_key_or_by_id() -> None:
    book = _Book(OBJECTS)
    want: set[Any] = {"b", "e", "zz"}
    assert sorted(book.directory().gather(want, {2, 5})) == [(2, "b"), (5, "e")]
    assert want == {"zz"}  # what is left has no object
    by_id = _Book(OBJECTS)
    ids = {3}
    assert list(by_id.directory().gather(ids, ids, by_id=True)) == [(3, "c")]
    assert by_id.asked == ["get 3"]  # one id: fetched, no page read


def test_directory_find_or_create_creates_only_what_is_missing() -> None:
    book = _Book(OBJECTS)
    seen: list[Any] = []

    def create(source: str, lookup: Any) -> Obj | Refusal:
        seen.append((source, lookup()))  # the lookup finds that one key again
        if source == "bad":
            return Refusal("refused")
        made = (len(book.objects) + 1, source)
        book.objects.append(made)
        return made

    got = book.directory().find_or_create({"a": "a", "new": "new", "bad": "bad"}, create)
    assert got == {"a": (1, "a"), "new": (6, "new"), "bad": Refusal("refused")}
    assert seen == [("new", None), ("bad", None)]


def test_directory_find_or_create_hands_the_lookup_to_the_create() -> None:
    """A create whose answer was lost finds the object through ``lookup`` (no second one)."""
    book = _Book(OBJECTS)

    def create(source: str, lookup: Any) -> Obj:
        book.objects.append((9, source))  # applied, but the answer is lost
        found = lookup()
        if found is None:
            raise ServerError("HTTP 502", status_code=502)
        return found  # type: ignore[no-any-return]

    assert book.directory().find_or_create({"x": "x"}, create) == {"x": (9, "x")}
    assert book.objects.count((9, "x")) == 1
