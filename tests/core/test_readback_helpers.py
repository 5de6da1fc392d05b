"""Core pieces taken out of the 66text adapter (issue 11), driven by stubs: write-then-read-back
(``Provider.checked_write``), the id floor of a lost create (``EnvelopePages.newest_id`` /
``ids_where``), code-list rule fields (``CodeList``, ``RuleDialect.split``/``from_lists``)
and the small wire helpers ``phone_keys``, ``indexed_fields`` and ``lax_flag``."""

from __future__ import annotations

from typing import Any

import pytest

from segmentkit.adapter import Provider
from segmentkit.adapter.wire import (
    AS_FLAG,
    CodeList,
    RuleDialect,
    WireModel,
    indexed_fields,
    phone_keys,
)
from segmentkit.errors import (
    ServerError,
    UnexpectedResponseError,
    UnsupportedOperationError,
)
from segmentkit.http.numbered import EnvelopePages
from segmentkit.models import Operator, Rule

# ------------------------------------------------------------------ checked_write


class _Http:
    """``post`` that answers, or whose outcome is unknown ``unknown`` times (then the retry
    mode's lookup decides, as the session does: a result = applied, ``None`` = send again)."""

    def __init__(self, unknown: int = 0, applies: bool = True) -> None:
        self.unknown = unknown
        self.applies = applies
        self.sent = 0
        self.store: dict[str, Any] = {}

    def post(self, path: str, *, retry: Any, **kwargs: Any) -> Any:
        for _ in range(5):
            self.sent += 1
            if self.unknown <= 0:
                self.store["v"] = kwargs["data"]
                return {"ok": True}
            self.unknown -= 1
            exc = ServerError("HTTP 502", status_code=502)
            if self.applies:
                self.store["v"] = kwargs["data"]
            if retry.lookup(exc) is not None:
                return True
        raise AssertionError("unbounded")


class _Adapter:
    name = "stub"

    def __init__(self, http: _Http) -> None:
        self.http = http

    checked_write = Provider.checked_write


def _write(http: _Http, stored: dict[str, Any], **kw: Any) -> Any:
    http.store = stored
    adapter = _Adapter(http)
    return adapter.checked_write(
        "things/1",
        data="new",
        read=lambda: stored.get("v"),
        holds=lambda v: v == "new",
        **kw,
    )


def test_checked_write_returns_the_read_back() -> None:
    http = _Http()
    assert _write(http, {}, strict="v=new") == "new"
    assert http.sent == 1


def test_an_applied_write_with_a_lost_answer_is_not_sent_again() -> None:
    http = _Http(unknown=1, applies=True)
    assert _write(http, {}) == "new"
    assert http.sent == 1


def test_a_write_provably_not_applied_is_sent_again() -> None:
    http = _Http(unknown=1, applies=False)
    assert _write(http, {}) == "new"
    assert http.sent == 2


def test_not_applied_may_name_the_failure_instead_of_a_re_send() -> None:
    http = _Http(unknown=1, applies=False)
    with pytest.raises(ServerError, match="known bug") as info:
        _write(http, {}, not_applied=lambda exc: ServerError("known bug", status_code=500))
    assert isinstance(info.value.__cause__, ServerError)
    assert http.sent == 1


class _Ignoring(_Http):
    def post(self, path: str, *, retry: Any, **kwargs: Any) -> Any:
        self.sent += 1
        return {"ok": True}  # answered, but nothing stored (another writer, a dropped value)


def test_strict_refuses_a_read_back_that_does_not_hold_what_was_sent() -> None:
    with pytest.raises(UnexpectedResponseError, match=r"does not hold what was sent \(v=new\)"):
        _write(_Ignoring(), {"v": "old"}, strict="v=new")
    assert _write(_Ignoring(), {"v": "old"}) == "old"  # not strict: returned as read


# ------------------------------------------------------------------ the id floor

PAGES = EnvelopePages(page="page", size="per_page", total_pages="meta.total_pages")


class _Transport:
    listening = False


class _Listing:
    provider = "stub"
    transport = _Transport()

    def __init__(self, pages: dict[int, list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.asked: list[dict[str, Any]] = []

    def get(self, path: str, *, params: dict[str, Any]) -> Any:
        self.asked.append(dict(params))
        n = int(params["page"])
        return {"data": self.pages.get(n, []), "meta": {"total_pages": len(self.pages)}}


def test_newest_id_reads_page_one_when_it_is_newest_first() -> None:
    http = _Listing({1: [{"id": 9}, {"id": "8"}, {"id": None}], 2: [{"id": 1}]})
    assert PAGES.newest_id(http, "segments") == 9  # type: ignore[arg-type]
    assert [a["page"] for a in http.asked] == [1]


def test_newest_id_also_reads_the_last_page_when_page_one_is_ascending() -> None:
    http = _Listing({1: [{"id": 1}, {"id": 2}], 2: [{"id": 3}], 3: [{"id": 14}, {"id": "x"}]})
    assert PAGES.newest_id(http, "segments") == 14  # type: ignore[arg-type]
    assert [a["page"] for a in http.asked] == [1, 3]
    assert PAGES.newest_id(_Listing({}), "segments") == 0  # type: ignore[arg-type]


def test_ids_where_rechecks_every_item_above_the_floor() -> None:
    http = _Listing(
        {
            1: [{"id": 12, "name": "a"}, {"id": 5, "name": "a"}, {"id": 13, "name": "b"}],
            2: [{"id": "20", "name": "a"}, {"id": "x", "name": "a"}],
        }
    )
    found = PAGES.ids_where(
        http,  # type: ignore[arg-type]
        "segments",
        lambda raw: raw.get("name") == "a",
        {"search": "a"},
        above=10,
    )
    assert found == [12, 20]
    assert all(a["search"] == "a" for a in http.asked)


# ------------------------------------------------------------------ code lists

DIALECT = RuleDialect(
    name="p",
    operators={Operator.equals: "exact"},
    lists={
        "country": CodeList("countries"),
        "continent": CodeList("continents", frozenset({"EU", "AS"})),
    },
)


def _rule(field: str, op: str, *values: str) -> Rule:
    return Rule(field=field, operator=Operator(op), values=values)


def test_split_separates_conditions_from_code_lists() -> None:
    natives, codes = DIALECT.split(
        [_rule("City", "equals", "Roma"), _rule("Country", "in", " it", "FR", "IT")]
    )
    assert [(n.field, n.condition, n.value) for n in natives] == [("City", "exact", "Roma")]
    assert codes == {"countries": ["IT", "FR"]}


@pytest.mark.parametrize(
    ("rules", "match", "said"),
    [
        ([_rule("country", "contains", "IT")], "all", "'in' or 'equals'"),
        ([_rule("country", "in", "ITA")], "all", "ISO alpha-2"),
        ([_rule("continent", "in", "NA")], "all", "ISO alpha-2"),
        ([_rule("country", "in", "IT"), _rule("country", "in", "FR")], "all", "only one"),
        ([_rule("a", "equals", "1"), _rule("country", "in", "IT")], "any", "ANY of several"),
    ],
)
def test_split_names_what_the_platform_cannot_store(
    rules: list[Rule], match: Any, said: str
) -> None:
    with pytest.raises(UnsupportedOperationError, match=said):
        DIALECT.split(rules, match)


def test_from_lists_reads_stored_code_lists_back_in_declared_order() -> None:
    rules = DIALECT.from_lists({"continents": ["EU"], "countries": ["IT", "FR"], "x": ["Y"]})
    assert [(r.field, r.operator, r.values, r.native_operator) for r in rules] == [
        ("country", Operator.in_, ("IT", "FR"), "countries"),
        ("continent", Operator.in_, ("EU",), "continents"),
    ]
    assert DIALECT.from_lists({"countries": None, "continents": []}) == []


# ------------------------------------------------------------------ small wire helpers


def test_phone_keys_dedupes_in_order_and_remembers_validity() -> None:
    keys = phone_keys(["+39 347 123 4567", None, "", "+393471234567", "12"])
    assert keys == {"+393471234567": True, "12": False}


def test_indexed_fields_interleaves_parallel_arrays() -> None:
    assert indexed_fields([("a", "1"), ("b", "2")], "k", "v") == [
        ("k[0]", "a"),
        ("v[0]", "1"),
        ("k[1]", "b"),
        ("v[1]", "2"),
    ]
    with pytest.raises(ValueError):
        indexed_fields([("a",)], "k", "v")


def test_as_flag_reads_php_unset_flags_as_false() -> None:
    from typing import Annotated

    class Model(WireModel):
        flag: Annotated[bool, AS_FLAG] = True

    assert [Model.model_validate({"flag": v}).flag for v in (None, "", 0, "1", True)] == [
        False,
        False,
        False,
        True,
        True,
    ]


# ------------------------------------------------------------------ member keys, pages, search


def test_first_key_takes_the_first_way_that_answers() -> None:
    from segmentkit.adapter.stores import Refusal, first_key
    from segmentkit.models import Recipient

    people = [
        Recipient(phone="+393471234567"),
        Recipient(id="7"),
        Recipient(id="x"),
        Recipient(phone="+393471234568", id="9"),
    ]
    no = Refusal("refused")
    keys = first_key(
        people,
        lambda r: no if r.phone == "+393471234568" else None,
        lambda r: r.phone,
        lambda r: int(r.id) if r.id and r.id.isdigit() else None,
    )
    assert keys == ["+393471234567", 7, None, no]
    unknown = first_key(people[2:3], lambda r: None, otherwise=lambda r: Refusal(f"no {r.id}"))
    assert unknown == [Refusal("no x")]


def _segment(ident: str, name: str) -> Any:
    from segmentkit.models import Segment, SegmentKind

    return Segment(id=ident, provider="p", name=name, kind=SegmentKind.static)


def test_segment_page_applies_an_ignored_query_and_drops_the_unfiltered_total() -> None:
    from segmentkit.http.numbered import EnvelopePage
    from segmentkit.models import SegmentQuery

    got = EnvelopePage(items=[], number=2, total_pages=3, total=25, next_page=3)
    segments = [_segment("1", "b"), _segment("2", "a"), _segment("3", "ab")]
    plain = got.segment_page(segments, SegmentQuery())
    assert [s.id for s in plain.items] == ["1", "2", "3"]
    assert (plain.page, plain.total_pages, plain.total, plain.next_page) == (2, 3, 25, 3)
    ordered = got.segment_page(segments, SegmentQuery(order_by="name"))
    assert [s.name for s in ordered.items] == ["a", "ab", "b"]
    assert ordered.total == 25
    found = got.segment_page(segments, SegmentQuery(search="a"))
    assert {s.id for s in found.items} == {"2", "3"}
    assert found.total is None  # the server counted everything


def test_search_says_whether_the_server_honoured_it() -> None:
    honoured = _Listing({1: [{"phone": "+391"}, {"phone": "+3912"}]})
    items, ok = PAGES.search(honoured, "contacts", "+391", "phone", {"q": "+391"})  # type: ignore[arg-type]
    assert (len(items), ok) == (2, True)
    assert honoured.asked == [{"q": "+391", "page": 1}]
    ignored = _Listing({1: [{"phone": "+391"}, {"phone": "+44"}]})
    assert PAGES.search(ignored, "contacts", "+391", "phone", {})[1] is False  # type: ignore[arg-type]
    many = _Listing({1: [{"phone": "+391"}], 2: [{"phone": "+391"}]})
    assert PAGES.search(many, "contacts", "+391", "phone", {})[1] is False  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "a b", "abc\n", "\tabc"])
def test_bearer_key_refuses_what_a_bearer_header_cannot_carry(key: str) -> None:
    import pydantic

    from segmentkit.adapter.base import BearerKey

    with pytest.raises(pydantic.ValidationError, match="whitespace"):
        BearerKey(api_key=key)  # type: ignore[arg-type]
    assert BearerKey(api_key="k3y").api_key.get_secret_value() == "k3y"  # type: ignore[arg-type]


# ------------------------------------------------------------------ client-side rule evaluation


@pytest.mark.parametrize(
    ("op", "stored", "wanted", "holds"),
    [
        ("equals", "Roma", "Roma", True),
        ("equals", "Roma", "roma", False),  # case-sensitive, as a binary collation
        ("not_equals", "Roma", "roma", True),
        ("contains", "gold", "OL", False),
        ("contains", "gold", "ol", True),
        ("not_contains", "gold", "ol", False),
        ("starts_with", "gold", "go", True),
        ("not_starts_with", "gold", "go", False),
        ("ends_with", "gold", "ld", True),
        ("not_ends_with", "gold", "ld", False),
        ("greater_than", "10", "9", True),  # numbers, not text
        ("greater_than", "abc", "-1", True),  # not a number: 0
        ("less_than", "inf", "1", True),  # infinities count as 0 too
        ("less_than", " 2.5 ", "3", True),
    ],
)
def test_compare_evaluates_one_value_rules_like_a_sql_platform(
    op: str, stored: str, wanted: str, holds: bool
) -> None:
    from segmentkit.adapter.wire import compare

    assert compare(Operator(op), stored, wanted) is holds


def test_compare_refuses_operators_that_are_not_one_value_comparisons() -> None:
    from segmentkit.adapter.wire import compare, sql_number

    with pytest.raises(ValueError, match="between"):
        compare(Operator.between, "1", "2")
    assert [sql_number(t) for t in ("7", "x", "nan", "-1e3")] == [7.0, 0.0, 0.0, -1000.0]


def test_phone_key_and_has_profile() -> None:
    from segmentkit.adapter.wire import has_profile, phone_key
    from segmentkit.models import Recipient

    assert phone_key("+39 347 123 4567") == "+393471234567"
    assert phone_key("0123") == "0123"  # refused by the normaliser: kept as stored
    assert not has_profile(Recipient(phone="+393471234567"))
    assert has_profile(Recipient(phone="+393471234567", name="A"))
    assert has_profile(Recipient(phone="+393471234567", attributes={"tier": "gold"}))
    assert has_profile(Recipient(phone="+393471234567", email="a@example.com"))
