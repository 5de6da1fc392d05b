"""segmentkit.adapter.wire: the shared wire coercions and the rule dialect."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import field_validator

from segmentkit.adapter.wire import (
    NativeRule,
    RuleDialect,
    WireModel,
    json_list,
    php_object,
    utc_datetime,
)
from segmentkit.errors import UnsupportedOperationError
from segmentkit.models import Operator, Rule


class _Thing(WireModel):
    id: int
    settings: dict[str, Any]
    tags: list[str]
    at: datetime | None = None

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, v: Any) -> Any:
        return php_object(v)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> Any:
        return json_list(v)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        return utc_datetime(v)


def test_wire_model_ignores_unknown_fields_and_coerces_laxly() -> None:
    thing = _Thing.model_validate({"id": "7", "settings": [], "tags": None, "new_field": 1})
    assert thing.id == 7
    assert thing.settings == {}
    assert thing.tags == []
    assert not hasattr(thing, "new_field")


@pytest.mark.parametrize(
    ("value", "expected"),
    [([], {}), (None, {}), ("", {}), ('{"a": 1}', {"a": 1}), ({"b": 2}, {"b": 2}), ([1], [1])],
)
def test_php_object(value: Any, expected: Any) -> None:
    """PHP's json_encode writes an empty array as []; some builds store JSON text."""
    assert php_object(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("  ", []),
        ('["a", "b"]', ["a", "b"]),
        ({"0": "a", "2": "c"}, ["a", "c"]),
        (["x"], ["x"]),
    ],
)
def test_json_list(value: Any, expected: Any) -> None:
    assert json_list(value) == expected


def test_utc_datetime_forms() -> None:
    utc = timezone.utc
    assert utc_datetime("2026-11-29 20:01:07") == datetime(2026, 11, 29, 20, 1, 7, tzinfo=utc)
    assert utc_datetime("2026-11-29T20:01:07Z") == datetime(2026, 11, 29, 20, 1, 7, tzinfo=utc)
    plus_two = utc_datetime("2026-11-29T22:01:07+02:00")
    assert plus_two is not None
    assert plus_two.utcoffset() == timedelta(hours=2)
    assert utc_datetime(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=utc)
    for blank in (None, "", "0000-00-00 00:00:00"):
        assert utc_datetime(blank) is None
    with pytest.raises(ValueError):
        utc_datetime("yesterday")


DIALECT = RuleDialect(
    name="demo",
    operators={Operator.equals: "is", Operator.contains: "has", Operator.greater_than: "gt"},
    max_rules=2,
    key_max=5,
    value_max=3,
    reference="see the demo docs.",
)


def _rule(field: str, op: str, *values: str, native: str | None = None) -> Rule:
    return Rule(field=field, operator=Operator(op), values=values, native_operator=native)


def test_dialect_translates_and_maps_back() -> None:
    rules = [
        _rule("city", "equals", "Rom"),
        _rule("age", "in", "18"),
        _rule("x", "other", "1", native="has"),
    ]
    with pytest.raises(UnsupportedOperationError, match="more than 2 rules"):
        DIALECT.to_native(rules)
    native = DIALECT.to_native(rules[:2])
    assert native == [NativeRule("city", "is", "Rom"), NativeRule("age", "is", "18")]
    assert DIALECT.to_native(rules[2:]) == [NativeRule("x", "has", "1")]
    back = DIALECT.from_native(NativeRule("city", "gt", "5"))
    assert (back.operator, back.values, back.native_operator) == (
        Operator.greater_than,
        ("5",),
        "gt",
    )
    other = DIALECT.from_native(NativeRule("city", "regex", ".*"))
    assert other.operator is Operator.other
    assert other.native_operator == "regex"


@pytest.mark.parametrize(
    ("rules", "match", "named"),
    [
        ([_rule("city", "not_equals", "a")], "all", "rule city not_equals ['a']"),
        ([_rule("city", "in", "a", "b")], "all", "rule city in ['a', 'b']"),
        ([_rule("toolong", "equals", "a")], "all", "rule toolong equals ['a']"),
        ([_rule("city", "equals", "abcd")], "all", "rule city equals ['abcd']"),
        ([_rule("a", "equals", "1"), _rule("b", "equals", "2")], "any", "ANY of several"),
        ([_rule("city", "other", "1", native="regex")], "all", "rule city other ['1']"),
    ],
)
def test_dialect_unsupported_names_the_rule(rules: list[Rule], match: Any, named: str) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        DIALECT.to_native(rules, match)
    assert named in str(info.value)
    assert str(info.value).startswith("demo:")


def test_dialect_fields_and_any_of() -> None:
    closed = RuleDialect(
        name="demo", operators={Operator.equals: "eq"}, fields=frozenset({"tag"}), any_of=True
    )
    two = [_rule("tag", "equals", "a"), _rule("TAG", "equals", "b")]
    assert len(closed.to_native(two, "any")) == 2
    with pytest.raises(UnsupportedOperationError, match="fields are tag"):
        closed.to_native([_rule("city", "equals", "a")])
