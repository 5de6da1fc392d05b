"""``segmentkit.http.envelope.loads`` is :func:`json.loads`, only faster (issue 14).

Answers are parsed by pydantic-core's JSON parser and, whenever it refuses a document, by
:func:`json.loads`. Over generated documents (and bytes that are not quite JSON) both must
give the same value, type for type, or the same error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentkit.http.envelope import loads


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def _outcome(parse: Any, data: bytes) -> Any:
    try:
        return ("ok", _typed(parse(data)))
    except (ValueError, RecursionError) as exc:
        return ("error", type(exc).__name__, str(exc))


def _same(data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(json.loads, data), data[:200]


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=600, deadline=None)
@given(value=_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_documents_decode_as_json_loads_decodes_them(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    _same(text.encode("utf-8", "surrogatepass"))


_pieces = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b'"',
        b"\\",
        b"\\u",
        b"d800",
        b"dc00",
        b"00e9",
        b"1",
        b"-",
        b"0",
        b".",
        b"e",
        b"E",
        b"+",
        b"9" * 20,
        b"true",
        b"null",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b" ",
        b"\n",
        b"\t",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc3\xa9",
        b"a",
        b'"k"',
        b"\x00",
        b"/",
        b"\\n",
        b"\\/",
        b"1e400",
        b"-0",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(data=st.lists(_pieces, max_size=14).map(b"".join) | st.binary(max_size=24))
def test_near_json_bytes_decode_or_fail_as_json_loads_does(data: bytes) -> None:
    _same(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":"\\ud800"}',  # a lone surrogate: json.loads keeps it
        b'{"a":1,"b":2,"a":3}',  # a repeated key: the last value, at the first place
        b"\xef\xbb\xbf[1]",  # a UTF-8 byte-order mark
        b"[" * 5000 + b"]" * 5000,  # deeper than either parser goes
        b"[" * 300 + b"]" * 300,
        b"[1e400, -1e400, 1e-400, -0.0, -0, 0.1, 1.7976931348623157e308]",
        b"[123456789012345678901234567890, 12345678901234567890.5]",
        b"[NaN, Infinity, -Infinity]",
        b'"\\u0000\\u001f\\/"',
        b'["\t"]',
        b"[01]",
        b"[1] x",
        b"  [1]  \n",
        b'{"a":"\xff"}',
        '{"é": "ü", "k": "日本"}'.encode(),
        "[1]".encode("utf-16"),
        b"",
        b"<html>500</html>",
    ],
)
def test_edges(data: bytes) -> None:
    _same(data)
