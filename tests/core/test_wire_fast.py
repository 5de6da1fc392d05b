"""The wire markers' native fast paths give exactly what their functions give (issue 14).

Each marker (``AS_UTC``, ``AS_LIST``, ``AS_OBJECT``, ``AS_TEXT``, ``AS_FLAG``) validates a
common input in pydantic-core with no Python call and sends every other input through its
function. Here each marker is compared with a plain ``BeforeValidator`` of the same function
(the pre-fast-path behaviour) over generated inputs: the same verdict, the same value (type
for type, time zone object for time zone object), and, on a rejection, the same first
problem as :func:`~segmentkit.adapter.wire.problem` reports it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Annotated, Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BeforeValidator, Field, TypeAdapter

from segmentkit.adapter.wire import (
    AS_FLAG,
    AS_LIST,
    AS_OBJECT,
    AS_TEXT,
    AS_UTC,
    Before,
    WireModel,
    problem,
    validate_items,
)
from segmentkit.errors import UnexpectedResponseError


class _Item(WireModel):
    key: str
    value: Annotated[str, AS_TEXT] = ""


class _Nested(WireModel):
    ids: Annotated[list[int], AS_LIST] = Field(default_factory=list)
    items: Annotated[list[_Item], AS_LIST] = Field(default_factory=list)
    codes: list[str] | None = None


# (marker, field type) pairs: every marker on the field types adapters give it.
CASES: list[tuple[Before, Any]] = [
    (AS_UTC, datetime | None),
    (AS_UTC, datetime),
    (AS_LIST, list[int]),
    (AS_LIST, list[str | None]),
    (AS_LIST, list[_Item]),
    (AS_OBJECT, dict[str, Any]),
    (AS_OBJECT, _Nested),
    (AS_TEXT, str),
    (AS_TEXT, str | None),
    (AS_FLAG, bool),
    (AS_FLAG, bool | None),
]
_IDS = [f"{m.func.__name__}-{t}" for m, t in CASES]
_PAIRS = [
    (TypeAdapter(Annotated[t, m]), TypeAdapter(Annotated[t, BeforeValidator(m.func)]))
    for m, t in CASES
]


def _typed(value: Any) -> Any:
    """``value`` with every type (and time zone object) spelled out, so that ``1 == 1.0 ==
    True`` or two equal datetimes in different zone objects compare unequal."""
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), id(value.tzinfo) if value.tzinfo else None)
    if isinstance(value, pydantic.BaseModel):
        return (type(value).__name__, _typed(value.__dict__), sorted(value.model_fields_set))
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _outcome(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return ("ok", _typed(adapter.validate_python(value)))
    except pydantic.ValidationError as exc:
        return ("error", problem(exc))
    except (ValueError, RecursionError) as exc:  # pragma: no cover - a function's own error
        return ("raised", type(exc).__name__, str(exc))


def _same(index: int, value: Any) -> None:
    fast, reference = _PAIRS[index]
    assert _outcome(fast, value) == _outcome(reference, value), (_IDS[index], value)


# ------------------------------------------------------------------------------ inputs

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", " ", "0", "1", "true", "false", "yes", "null", "[]", "{}", "0.0"])
)
_json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def _stamps(draw: st.DrawFn) -> str:
    """Timestamps shaped like "Y-m-d H:i:s", valid or not (month 13, hour 24, second 60,
    year 0000, February 30th), in the platforms' form and around it."""
    parts = [
        draw(st.integers(0, 9999)),
        draw(st.integers(0, 13)),
        draw(st.integers(0, 32)),
        draw(st.integers(0, 25)),
        draw(st.integers(0, 61)),
        draw(st.integers(0, 61)),
    ]
    sep = draw(st.sampled_from([" ", "T", "  ", "t"]))
    text = "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}".format(*parts[:3], sep, *parts[3:])
    text += draw(
        st.sampled_from(["", "", "", "Z", "+00:00", "+02:00", "-05:30", ".5", ".123456", " "])
    )
    return draw(st.sampled_from(["", " ", "\t"])) + text


_objects = (
    _json_values
    | st.dictionaries(st.sampled_from(["0", "1", "2", "5"]), _json_values, max_size=3)
    | st.builds(json.dumps, _json_values)
    | st.fixed_dictionaries(
        {},
        optional={
            "ids": _json_values | st.lists(st.integers(-5, 5) | st.text(max_size=3), max_size=3),
            "items": st.lists(
                st.fixed_dictionaries({"key": st.text(max_size=3)}, optional={"value": _scalars}),
                max_size=3,
            )
            | st.builds(json.dumps, st.lists(st.fixed_dictionaries({"key": st.just("k")}))),
            "codes": _json_values,
        },
    )
)
_inputs = _stamps() | _objects | st.builds(json.dumps, st.lists(st.integers(), max_size=3))


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("index", range(len(CASES)), ids=_IDS)
@settings(max_examples=400, deadline=None)
@given(value=_inputs)
def test_fast_path_gives_what_the_function_gives(index: int, value: Any) -> None:
    _same(index, value)


EDGES = [
    None,
    "",
    " ",
    "0000-00-00 00:00:00",
    "2026-11-29 20:01:07",
    "2026-11-29T20:01:07Z",
    "2026-11-29T22:01:07+02:00",
    " 2026-11-29 20:01:07 ",
    "2026-02-30 10:00:00",
    "2026-11-29 24:00:00",
    "2026-11-29 23:59:60",
    "9999-12-31 23:59:59",
    "yesterday",
    datetime(2026, 1, 1),
    datetime(2026, 1, 1, tzinfo=timezone.utc),
    1_700_000_000,
    [],
    [1, "2", None],
    {},
    {"0": 1, "2": "3"},
    '["a", "b"]',
    '{"ids": [1]}',
    "[]",
    "null",
    {"ids": None, "items": '[{"key": "k", "value": 5}]'},
    {"ids": {"1": "7"}, "items": [{"key": "k", "value": None}]},
    True,
    0,
    1,
    2,
    "0",
    "1",
    "true",
    1.0,
    0.5,
]


@pytest.mark.parametrize("index", range(len(CASES)), ids=_IDS)
@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_fast_path_edges(index: int, value: Any) -> None:
    _same(index, value)


def test_the_common_forms_take_the_fast_branch() -> None:
    """The point of it: the platforms' usual values never reach the Python functions."""
    calls: list[Any] = []

    def spy(func: Any) -> Any:
        def wrapped(value: Any) -> Any:
            calls.append(value)
            return func(value)

        return wrapped

    class Spied(WireModel):
        at: Annotated[datetime | None, Before(spy(AS_UTC.func), AS_UTC.fast)] = None
        ids: Annotated[list[int], Before(spy(AS_LIST.func), AS_LIST.fast)] = Field(
            default_factory=list
        )
        nested: Annotated[_Nested, Before(spy(AS_OBJECT.func), AS_OBJECT.fast)] = Field(
            default_factory=_Nested
        )
        text: Annotated[str, Before(spy(AS_TEXT.func), AS_TEXT.fast)] = ""
        flag: Annotated[bool, Before(spy(AS_FLAG.func), AS_FLAG.fast)] = False

    got = Spied.model_validate(
        {"at": "2026-11-29 20:01:07", "ids": [1], "nested": {}, "text": "t", "flag": "1"}
    )
    assert calls == []
    assert got.at == datetime(2026, 11, 29, 20, 1, 7, tzinfo=timezone.utc)
    assert got.at is not None
    assert got.at.tzinfo is timezone.utc
    Spied.model_validate({"at": None})
    assert calls == []
    Spied.model_validate({"at": "0000-00-00 00:00:00", "ids": None, "nested": [], "text": 5})
    assert calls == ["0000-00-00 00:00:00", None, [], 5]


def test_a_rejected_item_names_the_full_path_problem() -> None:
    class Stamped(WireModel):
        id: int
        at: Annotated[datetime | None, AS_UTC] = None

    with pytest.raises(UnexpectedResponseError) as info:
        validate_items(Stamped, [{"id": 1}, {"id": 2, "at": "yesterday"}], what="things list")
    message = str(info.value)
    assert "item 2 of the page" in message
    assert "at: Value error, Invalid isoformat string" in message
    for internal in ("<fast>", "<full>", "pattern"):
        assert internal not in message


def test_fields_named_like_the_branches_keep_their_location() -> None:
    class Named(WireModel):
        fast: Annotated[datetime | None, AS_UTC] = None
        full: int = 0

    for data, where in (({"fast": "yesterday"}, ("fast",)), ({"full": "x"}, ("full",))):
        with pytest.raises(pydantic.ValidationError) as info:
            Named.model_validate(data)
        assert problem(info.value)[0] == where


def test_validate_items_into_maps_each_item_with_its_raw_form() -> None:
    class Thing(WireModel):
        id: int

    raw = [{"id": "1", "x": 1}, {"id": 2}]
    got = validate_items(Thing, raw, what="things", into=lambda w, r: (w.id, r))
    assert got == [(1, raw[0]), (2, raw[1])]
    with pytest.raises(UnexpectedResponseError, match=r"item 2 of the page\): id:"):
        validate_items(Thing, [{"id": 1}, {"id": "x"}], what="things", into=lambda w, r: w)
