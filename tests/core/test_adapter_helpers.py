"""Core pieces adapters declare instead of coding (issue 11): the lenient string list and
HTML unescaping of ``adapter/wire.py``, rules stored as parallel arrays with folded condition
names, ``success_field`` and ``keep_transient`` of ``ErrorRules``, the default
``PerMemberStore.members_by_identity`` and ``Provider.segments_page`` — each driven without
an adapter or HTTP server."""

from __future__ import annotations

import types
from typing import Any, ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict, SecretStr

import segmentkit
from segmentkit import (
    NotFoundError,
    Page,
    PageFetched,
    RateLimitError,
    Recipient,
    Segment,
    SegmentKind,
    SegmentQuery,
    ServerError,
    UnexpectedResponseError,
)
from segmentkit.adapter import PerMemberStore, Provider
from segmentkit.adapter.wire import RuleDialect, string_list, unescape_html
from segmentkit.hookspecs import hookimpl
from segmentkit.http import Cursor, ErrorRules
from segmentkit.http.envelope import success_field
from segmentkit.models import Operator

# ---------------------------------------------------------------------------- wire coercions


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ([], []),
        (["3", None, 4], ["3", "", "4"]),
        ('["3", "14"]', ["3", "14"]),
        ("[]", []),
        ("5", ["5"]),  # JSON text that is not a list stays one string
        ('{"a": 1}', ['{"a": 1}']),
        ("is after", ["is after"]),  # not JSON at all
        ("", [""]),
        (7, ["7"]),
        ("[" * 100_000, ["[" * 100_000]),  # too deep to decode: kept as text, never a crash
    ],
)
def test_string_list_accepts_every_shape_a_php_platform_sends(value: Any, expected: Any) -> None:
    assert string_list(value) == expected


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (None, None),
        ("", ""),
        ("Ada", "Ada"),
        ("Smith &amp; Co", "Smith & Co"),
        ("O&#039;Brien &quot;Jr&quot; &lt;x&gt;", 'O\'Brien "Jr" <x>'),
    ],
)
def test_unescape_html_shows_htmlspecialchars_text_as_typed(stored: Any, shown: Any) -> None:
    assert unescape_html(stored) == shown


# ---------------------------------------------------------------------------- rule dialect

WEB_UI = RuleDialect(
    name="acme",
    operators={
        Operator.equals: "is",
        Operator.after: "is after",
        Operator.between: "is between",
    },
    fold=True,
)


def test_from_arrays_gives_a_between_two_values_and_every_other_rule_one() -> None:
    rules = WEB_UI.from_arrays(
        ["14", "3", "17"], ["is between", "Is  After", "is"], ["1", "5", "2024-01-01", "x"]
    )
    assert [(r.field, r.operator, r.values) for r in rules] == [
        ("14", Operator.between, ("1", "5")),
        ("3", Operator.after, ("2024-01-01",)),
        ("17", Operator.equals, ("x",)),
    ]
    # The stored condition is kept as the platform wrote it.
    assert rules[1].native_operator == "Is  After"


def test_from_arrays_keeps_what_it_cannot_map_as_other() -> None:
    short_between, unknown, no_operator, no_field = WEB_UI.from_arrays(
        ["1", "2", "3", ""], ["is between", "sounds like", "", "is"], ["v"]
    )
    assert (short_between.operator, short_between.values) == (Operator.other, ("v",))
    assert (unknown.operator, unknown.native_operator, unknown.values) == (
        Operator.other,
        "sounds like",
        (),
    )
    assert (no_operator.operator, no_operator.native_operator) == (Operator.other, "?")
    assert no_field.field == "?"
    assert no_field.operator is Operator.equals


def test_fold_is_off_unless_declared() -> None:
    exact = RuleDialect(name="acme", operators={Operator.after: "is after"})
    (rule,) = exact.from_arrays(["1"], ["Is After"], ["x"])
    assert rule.operator is Operator.other
    (rule,) = WEB_UI.from_arrays(["1"], ["Is After"], ["x"])
    assert rule.operator is Operator.after


# ---------------------------------------------------------------------------- error rules


def _answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def test_success_field_reads_the_envelope_and_leaves_empty_bodies_to_the_decoder() -> None:
    ok = success_field("status", "success", "ok")
    assert ok({"status": "success"})
    assert ok({"status": "ok"})
    assert ok(None)
    assert not ok({"status": "failed"})
    assert not ok({"message": "x"})
    assert not ok(["status"])


ENVELOPES = ErrorRules(
    success=success_field("status", "success"),
    messages=((r"(?i)not found", NotFoundError),),
)


def test_a_failed_envelope_inside_http_200_is_classified_by_the_rules() -> None:
    body = {"status": "failed", "errors": "Record not found"}
    assert isinstance(ENVELOPES.error_for(_answer(200), body), NotFoundError)
    odd = ENVELOPES.error_for(_answer(200), {"status": "failed", "errors": "SQLSTATE[HY000]"})
    assert type(odd) is UnexpectedResponseError
    assert ENVELOPES.error_for(_answer(200), {"status": "success", "message": []}) is None


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitError), (500, ServerError)])
def test_keep_transient_keeps_429_and_5xx_whatever_the_body_says(status: int, cls: type) -> None:
    body = {"status": "failed", "errors": "Record not found"}
    # Without the flag the body's words win (a 500 would read as "not found" and never be
    # retried or reconciled); with it the status decides and the messages are kept.
    assert isinstance(ENVELOPES.error_for(_answer(status), body), NotFoundError)
    kept = ErrorRules(
        success=ENVELOPES.success, messages=ENVELOPES.messages, keep_transient=True
    ).error_for(_answer(status), body)
    assert type(kept) is cls
    assert kept is not None
    assert kept.status_code == status
    assert kept.messages == ["Record not found"]


# ---------------------------------------------------------------------------- adapter defaults


class _Creds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: SecretStr


class _Listed(Provider, PerMemberStore):
    """A per-member store that implements only listing: members_by_identity is the core's."""

    name = "stublisted"
    channel = "email"
    default_base_url = "https://stub.invalid/"
    Credentials = _Creds
    pages: ClassVar[list[list[Recipient]]] = []
    segments: ClassVar[list[Segment]] = []
    removed: ClassVar[list[str]] = []

    def auth_headers(self) -> dict[str, str]:
        return {}

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        return self.segments_page(self.segments, query)

    def get_segment(self, segment_id: str) -> Segment:
        raise NotFoundError("no", provider=self.name)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        n = page or 0
        nxt = n + 1 if n + 1 < len(self.pages) else None
        return Page(items=self.pages[n], page=n + 1, next_page=nxt)

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        raise AssertionError("not used here")

    def remove_member(self, segment_id: str, member_id: str) -> None:
        self.removed.append(member_id)


def _client(events: list[Any] | None = None) -> segmentkit.Client:
    plugins: list[Any] = [
        types.SimpleNamespace(
            segmentkit_register_providers=hookimpl(lambda register: register(_Listed))
        )
    ]
    if events is not None:
        seen = events

        def segmentkit_event(event: Any) -> None:
            seen.append(event)

        plugins.append(types.SimpleNamespace(segmentkit_event=hookimpl(segmentkit_event)))
    registry = segmentkit.create_registry(entry_points=False, plugins=plugins, env={})
    return segmentkit.connect("stublisted", api_key="stub-key-1234", registry=registry)


def test_default_members_by_identity_groups_every_listed_page() -> None:
    _Listed.pages = [
        [
            Recipient(id="1", email="Ada@Example.com"),
            Recipient(id="2", email="bob@example.com"),
            Recipient(email="noid@example.com"),  # no member id: cannot be removed, skipped
        ],
        [Recipient(id="3", email="ada@example.com"), Recipient(id="4", phone="+393331234567")],
    ]
    with _client() as client:
        members = client.adapter.members_by_identity("s")
    assert dict(members) == {"ada@example.com": ["1", "3"], "bob@example.com": ["2"]}


def test_default_members_by_identity_drives_removal_of_every_copy() -> None:
    """The engine removes every stored copy the default lookup found, across pages."""
    _Listed.pages = [
        [Recipient(id="1", email="ada@example.com"), Recipient(id="2", email="bob@example.com")],
        [Recipient(id="9", email="ada@example.com")],
    ]
    _Listed.removed = []
    with _client() as client:
        result = client.recipients.remove("s", ["ada@example.com", "cy@example.com"])
    assert _Listed.removed == ["1", "9"]
    assert [o.status.value for o in result.items] == ["removed", "unchanged"]


def test_segments_page_applies_the_query_and_announces_one_page() -> None:
    _Listed.segments = [
        Segment(id=str(i), name=name, kind=SegmentKind.static, provider="stublisted")
        for i, name in enumerate(["Promo", "news b", "News a"])
    ]
    events: list[Any] = []
    with _client(events) as client:
        names = [s.name for s in client.segments.list("news", order_by="name")]
    assert names == ["News a", "news b"]
    fetched = [e for e in events if isinstance(e, PageFetched)]
    assert [(e.resource, e.page, e.items, e.total_pages) for e in fetched] == [
        ("segments", 1, 3, 1)
    ]


class _Cursored(_Listed):
    """Members in cursor-paged answers, read with ``Provider.paged``."""

    name = "stubcursor"
    paging = Cursor(param="cursor", next="next")
    bodies: ClassVar[dict[Any, dict[str, Any]]] = {}

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        body = self.bodies[page]
        items = [Recipient(id=e, email=e) for e in body["items"]]
        return self.paged("recipients", items, token=page, body=body)


def test_paged_reads_the_next_token_the_declared_way_and_announces_each_page() -> None:
    _Cursored.bodies = {
        None: {"items": ["a@example.com", "b@example.com"], "next": "c2"},
        "c2": {"items": ["c@example.com"], "next": None},
    }
    events: list[Any] = []
    plugins: list[Any] = [
        types.SimpleNamespace(
            segmentkit_register_providers=hookimpl(lambda register: register(_Cursored))
        )
    ]

    def segmentkit_event(event: Any) -> None:
        events.append(event)

    plugins.append(types.SimpleNamespace(segmentkit_event=hookimpl(segmentkit_event)))
    registry = segmentkit.create_registry(entry_points=False, plugins=plugins, env={})
    with segmentkit.connect("stubcursor", api_key="stub-key-1234", registry=registry) as client:
        got = [r.email for r in client.recipients.list("s")]
    assert got == ["a@example.com", "b@example.com", "c@example.com"]
    fetched = [(e.resource, e.items) for e in events if isinstance(e, PageFetched)]
    assert fetched == [("recipients", 2), ("recipients", 1)]
