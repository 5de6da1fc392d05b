"""Fuzzed response bodies fed to both adapters' parsers through ``responses`` (issue 8).

Realistic answers (shapes from API-SPEC Parts 1 and 2 and the fakes) are generated, then
mutated at any depth: keys dropped, extra keys, values replaced by random JSON (wrong types,
nulls, nested garbage), huge strings. Besides JSON envelopes the platform may send HTML pages,
empty bodies, non-UTF-8 bytes, truncated JSON and top-level scalars or arrays, with random
status codes and garbage ``Retry-After`` / ``X-RateLimit-*`` headers.

Properties, for ``segments.list()``, ``segments.get("1")`` and ``recipients.list("1")``:

* only :class:`segmentkit.SegmentkitError` subclasses escape; anything else fails the test;
* without an exception, the results are valid :class:`Segment` / :class:`Recipient` objects;
* credentials never appear in ``str(exc)`` / ``repr(exc)`` (nor in ``raw_body``, ``messages``
  or ``field_errors``), even when the body echoes them.

The bugs this fuzzer found (JSON nested past the recursion limit escaping as RecursionError;
keys cut in half by excerpt truncation before masking; overflowing rate-limit headers) are
fixed; their minimal reproductions stay at the end of this module as regression tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmentkit
from segmentkit import Recipient, Segment, SegmentkitError, create_registry
from segmentkit_allstech import provider as allstech_provider
from segmentkit_notificator import provider as notificator_provider

BASE = "https://fuzz.test/api/"
# Distinctive values (66text keys are 32 lowercase hex chars, API-SPEC 1.2), so that a
# fragment of one can never occur by chance in generated text.
API_KEY = "d41d8cd98f00b204e9800998ecf8427e"
PUBLIC_KEY = "pk4f9a2c7e1b3d5a60"
SECRET_KEY = "sk8b1d3e6a9c2f4e71"
SECRETS = {"notificator": (API_KEY,), "allstech": (PUBLIC_KEY, SECRET_KEY)}

PROVIDERS = ("notificator", "allstech")
OPERATIONS = ("segments.list", "segments.get", "recipients.list")
STATUSES = (200, 201, 400, 401, 404, 422, 429, 500, 502, 503)
# Nesting well past the interpreter's recursion limit (a fixed bug: RecursionError escaped).
_MAX_DEPTH = 3000

REGISTRY = create_registry(
    entry_points=False, plugins=[notificator_provider, allstech_provider], env={}
)

FUZZ_SETTINGS = settings(
    max_examples=25,  # per (provider, operation): 6 x 25 = 150 examples per property
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# ---------------------------------------------------------------------------- clients


class _FakeTime:
    """Clock and sleep for the client: pacing/Retry-After waits advance time, never block."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, min(seconds, 1e6))


def _connect(provider: str) -> segmentkit.Client:
    fake_time = _FakeTime()
    common: dict[str, Any] = {
        "base_url": BASE,
        "max_retries": 0,
        "env": {},
        "registry": REGISTRY,
        "_clock": fake_time.clock,
        "_sleep": fake_time.sleep,
    }
    if provider == "notificator":
        return segmentkit.connect("notificator", api_key=API_KEY, **common)
    return segmentkit.connect("allstech", public_key=PUBLIC_KEY, secret_key=SECRET_KEY, **common)


# ---------------------------------------------------------------------------- JSON values


def _with_secrets(secrets: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Text that echoes a credential somewhere inside (short prefix/suffix: whole keys only)."""
    return st.builds(
        lambda a, s, b: a + s + b,
        st.text(max_size=8),
        st.sampled_from(secrets),
        st.text(max_size=8),
    )


def _strings(secrets: tuple[str, ...]) -> st.SearchStrategy[str]:
    options = [
        st.text(max_size=30),
        st.sampled_from(
            [
                "",
                " ",
                "0",
                "-1",
                "1e999",
                "NaN",
                "null",
                "[]",
                "{}",
                '{"a": 1}',
                '["x", null]',
                "0000-00-00 00:00:00",
                "2024-02-30 25:61:61",
                "2023-11-08T09:37:42.000000Z",
                "+393331234567",
                "not a phone",
                "a@b.c",
                "ann@example.com",
                "<b>x</b>",
                "is between",
                "9" * 5000,  # int() of this is refused by Python's digit limit
            ]
        ),
        st.integers(0, 20_000).map(lambda n: "A" * n),  # huge strings, bounded
    ]
    if secrets:
        options.append(_with_secrets(secrets))
    return st.one_of(*options)


def _json_values(secrets: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 1, 2**63, -(2**63) - 1, 10**30]),
        st.floats(allow_nan=True, allow_infinity=True),
        _strings(secrets),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=10,
    )


def _mutations(value: Any, junk: st.SearchStrategy[Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """``value`` unchanged, or changed at some depth: a key dropped or added, an element
    appended, one child mutated (recursively), or the whole value replaced by junk."""
    options: list[st.SearchStrategy[Any]] = [st.just(value), st.just(value), junk]
    if depth < 6 and isinstance(value, dict) and value:
        keys = sorted(value)
        options.append(
            st.sampled_from(keys).map(lambda k: {kk: v for kk, v in value.items() if kk != k})
        )
        options.append(
            st.tuples(st.text(max_size=12), junk).map(lambda kv: {**value, kv[0]: kv[1]})
        )
        options.append(
            st.sampled_from(keys).flatmap(
                lambda k: _mutations(value[k], junk, depth + 1).map(lambda nv: {**value, k: nv})
            )
        )
    if depth < 6 and isinstance(value, list):
        options.append(junk.map(lambda j: [*value, j]))
        if value:
            options.append(
                st.integers(0, len(value) - 1).flatmap(
                    lambda i: _mutations(value[i], junk, depth + 1).map(
                        lambda nv: [*value[:i], nv, *value[i + 1 :]]
                    )
                )
            )
    return st.one_of(*options)


def _mutated(base: st.SearchStrategy[Any], secrets: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """A realistic value with 0-3 mutations applied one after the other."""
    junk = _json_values(secrets)

    def apply(value: Any, n: int) -> st.SearchStrategy[Any]:
        if n == 0:
            return st.just(value)
        return _mutations(value, junk).flatmap(lambda v: apply(v, n - 1))

    return st.tuples(base, st.sampled_from([0, 0, 1, 1, 2, 3])).flatmap(lambda vn: apply(*vn))


# ---------------------------------------------------------------------------- realistic objects

_ids = st.one_of(st.integers(1, 10**6), st.integers(1, 10**6).map(str))
_utc = st.sampled_from(["2024-01-02 03:04:05", "2023-12-31 23:59:59", None, ""])
_iso = st.sampled_from(["2023-11-08T09:37:42.000000Z", "2024-05-01T00:00:00Z", None])
_phones = st.sampled_from(["+393331234567", "+14155552671", "+447911123456", "3331234567", ""])
_emails = st.sampled_from(["ann@example.com", "BOB@Example.ORG", "x@y", "", "not-an-email"])


def _notificator_settings(s: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {
                "phone_numbers": st.lists(_phones, max_size=3),
                "contacts_ids": st.lists(st.integers(1, 3), max_size=3),
            }
        ),
        st.fixed_dictionaries({"contacts_ids": st.lists(st.integers(1, 50), max_size=3)}),
        st.fixed_dictionaries(
            {
                "filters_custom_parameters": st.lists(
                    st.fixed_dictionaries(
                        {
                            "key": st.sampled_from(["age", "city", "email"]),
                            "condition": st.sampled_from(
                                ["exact", "bigger_than", "contains", "bogus"]
                            ),
                            "value": st.one_of(_strings(s), st.integers()),
                        }
                    ),
                    max_size=2,
                ),
                "filters_countries": st.lists(st.sampled_from(["IT", "US", "xx"]), max_size=2),
                "filters_continents": st.lists(st.sampled_from(["EU", "NA"]), max_size=2),
                "contacts_ids": st.just([]),
            }
        ),
        st.sampled_from([[], None, "", '{"contacts_ids": [1, 2]}']),  # PHP/JSON-text shapes
    )


def _notificator_segment(s: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.one_of(st.just(1), st.just(1), _ids),
            "user_id": _ids,
            "name": _strings(s),
            "settings": _notificator_settings(s),
            "type": st.sampled_from(["bulk", "custom", "filter", "other"]),
            "total_contacts": st.one_of(st.integers(0, 10**6), st.integers(0, 99).map(str)),
            "last_datetime": _utc,
            "datetime": _utc,
        }
    )


def _notificator_contact(s: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(1, 3), _ids),
            "user_id": _ids,
            "name": _strings(s),
            "phone_number": _phones,
            "custom_parameters": st.one_of(
                st.dictionaries(
                    st.sampled_from(["email", "first_name", "last_name", "age", "city"]),
                    st.one_of(_strings(s), st.integers(), st.none()),
                    max_size=4,
                ),
                st.sampled_from([[], "", '{"age": "30"}']),
            ),
            "continent_code": st.sampled_from(["EU", "NA", None]),
            "country_code": st.sampled_from(["IT", "us", "XXX", None, ""]),
            "has_opted_out": st.sampled_from([0, 1, "0", "", None, True]),
            "datetime": _utc,
        }
    )


def _meta_links() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "meta": st.fixed_dictionaries(
                {
                    "page": st.sampled_from([1, "1", "2"]),
                    "results_per_page": st.sampled_from([25, 1000]),
                    "total_pages": st.integers(0, 2),
                    "total_results": st.integers(0, 100),
                }
            ),
            "links": st.fixed_dictionaries(
                {
                    "first": st.just(BASE + "segments?&page=1"),
                    "next": st.sampled_from([None, BASE + "segments?&page=2", "?page=99999"]),
                    "prev": st.none(),
                }
            ),
        }
    )


def _notificator_list(
    item: st.SearchStrategy[dict[str, Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(st.lists(item, max_size=3), _meta_links()).map(
        lambda t: {"data": t[0], **t[1]}
    )


def _notificator_error() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "errors": st.lists(
                st.fixed_dictionaries(
                    {
                        "title": st.sampled_from(
                            [
                                "You do not have access to the API.",
                                "The request is missing the Bearer Authentication header.",
                                "The resource you are looking for does not exist.",
                                "You reached the limit of requests in one minute, please wait.",
                                "Your have exceeded the limits of your current plan.",
                            ]
                        ),
                        "status": st.sampled_from([401, "401", 404, 429, 400, 500, 200, 1e999]),
                    }
                ),
                min_size=0,
                max_size=2,
            )
        }
    )


def _allstech_segment(s: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.one_of(st.just(1), st.just(1), _ids),
            "user_id": _ids,
            "contact_type_id": _ids,
            "segment_name": _strings(s),
            "select_field": st.one_of(
                st.lists(st.sampled_from(["14", "17", " ", ""]), max_size=3),
                st.sampled_from(['["14"]', "14", None]),
            ),
            "select_operator": st.one_of(
                st.lists(
                    st.sampled_from(["is after", "is between", "IS  NOT", " ", ""]), max_size=3
                ),
                st.sampled_from(['["is after"]', None]),
            ),
            "value": st.lists(st.sampled_from(["2023-11-08T15:12", "25", "60"]), max_size=3),
            "query_type": st.sampled_from([None, "and", "or", "OR "]),
            "deleted_at": st.sampled_from([None, None, "2024-01-01T00:00:00.000000Z"]),
            "created_at": _iso,
            "updated_at": _iso,
            "segment_emails_count": st.one_of(st.integers(0, 10**6), st.just("3")),
        }
    )


def _allstech_recipient(s: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    text = st.one_of(_strings(s), st.none())
    return st.fixed_dictionaries(
        {
            "id": _ids,
            "user_id": _ids,
            "segment_id": st.just(1),
            "contact_id": st.one_of(st.none(), _ids),
            "first_name": text,
            "last_name": text,
            "email": _emails,
            "country": st.sampled_from(["IT", "Italy", "us", None, ""]),
            "state": text,
            "city": text,
            "address_line1": text,
            "created_at": _iso,
            "updated_at": _iso,
            "fullname": text,
        }
    )


def _allstech_success(key: str, item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(item, max_size=3).map(
        lambda items: {"status": "success", "message": {key: items}}
    )


def _allstech_failure() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "status": st.just("failed"),
            "errors": st.one_of(
                st.sampled_from(["Record not found", "Record Not Found", "Unauthorized", ""]),
                st.just(
                    {
                        "PublicKey": ["The public key field is required."],
                        "SecretKey": ["The secret key field is required."],
                    }
                ),
                st.just({"email": ["The email has already been taken."]}),
            ),
        }
    )


# ---------------------------------------------------------------------------- bodies, answers


def _nested(depth: int) -> str:
    return "[" * depth + "0" + "]" * depth


def _html(secrets: tuple[str, ...]) -> st.SearchStrategy[str]:
    inner = _strings(secrets) if secrets else st.text(max_size=200)
    return inner.map(
        lambda t: (
            f"<!DOCTYPE html><html><head><title>500</title></head>"
            f"<body><h1>Internal server error</h1><p>{t}</p></body></html>"
        )
    )


def _bodies(envelope: st.SearchStrategy[Any], secrets: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Bytes on the wire: mostly the (mutated) envelope as JSON, else anything at all."""
    value = _mutated(envelope, secrets)
    as_json = value.map(lambda v: json.dumps(v).encode())
    garbage = st.one_of(
        st.sampled_from([b"", b"   \n", b"null", b"0", b"true", b'"ok"', b"[]", b"{}", b"[1, 2]"]),
        _json_values(secrets).map(lambda v: json.dumps(v).encode()),  # any top-level JSON
        _html(secrets).map(str.encode),
        st.binary(max_size=64),  # non-UTF-8 bytes
        st.tuples(as_json, st.binary(min_size=1, max_size=4)).map(lambda t: t[0] + t[1]),
        as_json.flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda n: b[:n])),
        value.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-16")),
        value.map(lambda v: json.dumps(v, ensure_ascii=False).encode("latin-1", "replace")),
        st.integers(1, _MAX_DEPTH).map(lambda d: _nested(d).encode()),
    )
    return st.one_of(as_json, as_json, as_json, as_json, garbage)


_header_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "-5",
            "60",
            "1e400",
            "-1e400",
            "nan",
            "inf",
            "1e10",
            "99999999999999999999",
            "",
            "soon",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Mon, 01 Jan 99999 00:00:00 GMT",
            "Sat, 01 Jan 0001 00:00:00 +2359",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)
_headers = st.dictionaries(
    st.sampled_from(
        [
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "Content-Type",
        ]
    ),
    _header_values,
    max_size=4,
)
_statuses = st.one_of(st.just(200), st.just(200), st.just(200), st.sampled_from(STATUSES))

Answer = tuple[int, dict[str, str], bytes]


def _answers(
    envelope: st.SearchStrategy[Any], secrets: tuple[str, ...]
) -> st.SearchStrategy[Answer]:
    return st.tuples(_statuses, _headers, _bodies(envelope, secrets))


def _answer_lists(
    envelope: st.SearchStrategy[Any], secrets: tuple[str, ...]
) -> st.SearchStrategy[list[Answer]]:
    """Answers to successive calls of one endpoint (paging, one GET per contact id)."""
    return st.lists(_answers(envelope, secrets), min_size=1, max_size=3)


_EMPTY_NOTIFICATOR = json.dumps(
    {"data": [], "meta": {"page": 1, "total_pages": 0, "total_results": 0}, "links": {}}
).encode()
_NOT_FOUND_NOTIFICATOR = json.dumps(
    {"errors": [{"title": "The resource you are looking for does not exist.", "status": 404}]}
).encode()
_EMPTY_SEGMENTS_ALLSTECH = json.dumps({"status": "success", "message": {"segments": []}}).encode()
_NOT_FOUND_ALLSTECH = json.dumps({"status": "failed", "errors": "Record not found"}).encode()


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-formed envelopes (3:1), so that mutations reach the item parsers."""
    return st.one_of(good, good, good, bad)


def _routes(provider: str, op: str, secrets: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """(url regex, answers, answer once those are used up) for every endpoint ``op`` may call.
    The final answers end any listing, so a fuzzed "next page" cannot loop for long."""
    if provider == "notificator":
        segment = _notificator_segment(secrets)
        contact = _notificator_contact(secrets)
        err = _notificator_error()
        one_segment = _mostly(segment.map(lambda d: {"data": d}), err)
        routes: list[Any] = []
        if op == "segments.list":
            routes.append(
                (
                    r"segments(\?.*)?$",
                    _mostly(_notificator_list(segment), err),
                    _EMPTY_NOTIFICATOR,
                )
            )
        else:
            routes.append((r"segments/1$", one_segment, _NOT_FOUND_NOTIFICATOR))
        if op == "recipients.list":
            routes.append(
                (
                    r"contacts(\?.*)?$",
                    _mostly(_notificator_list(contact), err),
                    _EMPTY_NOTIFICATOR,
                )
            )
            routes.append(
                (
                    r"contacts/\d+$",
                    _mostly(contact.map(lambda d: {"data": d}), err),
                    _NOT_FOUND_NOTIFICATOR,
                )
            )
    else:
        segments = _mostly(
            _allstech_success("segments", _allstech_segment(secrets)), _allstech_failure()
        )
        routes = [(r"segment/list$", segments, _EMPTY_SEGMENTS_ALLSTECH)]
        if op == "recipients.list":
            recipients = _mostly(
                _allstech_success("contactEmails", _allstech_recipient(secrets)),
                _allstech_failure(),
            )
            routes.append((r"segment/email/list\?segment_id=1$", recipients, _NOT_FOUND_ALLSTECH))
    return st.tuples(
        *[
            st.tuples(st.just(pattern), _answer_lists(env, secrets), st.just(final))
            for pattern, env, final in routes
        ]
    )


def _callback(answers: list[Answer], final: bytes) -> Callable[[Any], Answer]:
    queue: Iterator[Answer] = iter(answers)

    def reply(_request: Any) -> Answer:
        return next(queue, (404 if b"errors" in final or b"failed" in final else 200, {}, final))

    return reply


def _run(provider: str, op: str, routes: Any) -> Any:
    """Serve ``routes`` and run ``op``; returns its result or raises what it raised."""
    client = _connect(provider)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for pattern, answers, final in routes:
            mock.add_callback(
                responses.GET,
                re.compile(re.escape(BASE) + pattern),
                callback=_callback(answers, final),
            )
        try:
            if op == "segments.list":
                return list(client.segments.list())
            if op == "segments.get":
                return client.segments.get("1")
            return list(client.recipients.list("1"))
        finally:
            client.close()


def _check_result(provider: str, op: str, result: Any) -> None:
    items = [result] if op == "segments.get" else result
    assert isinstance(items, list)
    cls = Recipient if op == "recipients.list" else Segment
    for obj in items:
        assert type(obj) is cls, obj
        type(obj).model_validate(obj.model_dump())  # still a valid model, field by field
        if isinstance(obj, Segment):
            assert obj.provider == provider
            assert isinstance(obj.id, str)
            assert obj.id
            assert isinstance(obj.name, str)
            assert obj.recipient_count is None or isinstance(obj.recipient_count, int)
        else:
            assert obj.email or obj.phone or obj.id
    if provider == "allstech" and op == "segments.get":
        assert result.id == "1"


def _secret_texts(exc: SegmentkitError) -> list[str]:
    texts = [str(exc), repr(exc)]
    texts.append(str(getattr(exc, "raw_body", "") or ""))
    texts.extend(str(m) for m in getattr(exc, "messages", []) or [])
    for k, v in (getattr(exc, "field_errors", {}) or {}).items():
        texts.append(str(k))
        texts.extend(str(x) for x in v)
    return texts


# ---------------------------------------------------------------------------- properties


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("provider", PROVIDERS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_answers_raise_only_segmentkit_errors_and_parse_to_valid_models(
    provider: str, op: str, data: st.DataObject
) -> None:
    routes = data.draw(_routes(provider, op, ()), label="routes")
    try:
        result = _run(provider, op, routes)
    except SegmentkitError:
        return  # any other exception propagates and fails the test
    _check_result(provider, op, result)


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("provider", PROVIDERS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_echoed_credentials_never_appear_in_errors(
    provider: str, op: str, data: st.DataObject
) -> None:
    secrets = SECRETS[provider]
    routes = data.draw(_routes(provider, op, secrets), label="routes")
    error: SegmentkitError | None = None
    try:
        result = _run(provider, op, routes)
    except SegmentkitError as exc:
        error = exc
    if error is None:
        _check_result(provider, op, result)
        return
    for text in _secret_texts(error):
        for secret in secrets:
            assert secret not in text, (type(error).__name__, text[:300])


# ---------------------------------------------------------------------------- known bugs
# Minimal reproductions of what the fuzzer found, kept as regression tests.

_LIST_URL = {"notificator": BASE + "segments", "allstech": BASE + "segment/list"}
_VALID_LIST = {
    "notificator": _EMPTY_NOTIFICATOR,
    "allstech": _EMPTY_SEGMENTS_ALLSTECH,
}


def _list_with(provider: str, status: int, body: bytes, headers: dict[str, str] | None = None):
    client = _connect(provider)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(_LIST_URL[provider], body=body, status=status, headers=headers or {})
        try:
            return list(client.segments.list())
        finally:
            client.close()


def _fragments(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_deeply_nested_json_body_raises_a_segmentkit_error(provider: str) -> None:
    with pytest.raises(SegmentkitError):
        _list_with(provider, 200, _nested(5000).encode())


def test_excerpt_of_a_deeply_nested_body_is_a_string() -> None:
    deep: Any = 0
    for _ in range(5000):
        deep = [deep]
    client = _connect("notificator")
    try:
        assert isinstance(client.adapter._excerpt(deep), str)
    finally:
        client.close()


def test_html_error_page_echoing_the_key_leaks_no_fragment_in_str() -> None:
    body = f"<html><body>{'x' * 180} {API_KEY}</body></html>".encode()
    with pytest.raises(SegmentkitError) as info:
        _list_with("notificator", 500, body)
    text = str(info.value) + repr(info.value)
    assert not [f for f in _fragments(API_KEY) if f in text], text[-80:]


def test_raw_body_echoing_the_key_leaks_no_fragment() -> None:
    body = json.dumps({"data": [{"id": "q" * 470 + API_KEY}]}).encode()
    with pytest.raises(SegmentkitError) as info:
        _list_with("notificator", 200, body)
    raw = info.value.raw_body or ""
    assert not [f for f in _fragments(API_KEY) if f in raw], raw[-60:]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_garbage_rate_limit_header_does_not_break_a_valid_answer(provider: str) -> None:
    assert _list_with(provider, 200, _VALID_LIST[provider], {"X-RateLimit-Limit": "inf"}) == []
