"""Platform quirks of 66text (API-SPEC Part 1), each against the fake in both transports."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
import responses

import segmentkit_notificator
from segmentkit import (
    AuthenticationError,
    NotFoundError,
    OutcomeStatus,
    QuotaExceededError,
    RateLimitError,
    Recipient,
    Rule,
    SegmentKind,
    ServerError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    ValidationError,
    connect,
)
from segmentkit.models import Operator
from segmentkit.plugins import default_registry
from segmentkit.testing import FakeServer
from segmentkit_notificator import NotificatorProvider
from segmentkit_notificator.fake import NotificatorPlatform

from .conftest import phone

PROFILES = ["documented", "v2.0.1"]
KEY = "0123456789abcdef0123456789abcdef"


def _form(srv: FakeServer, method: str, path: str) -> dict[str, list[str]]:
    records = srv.log.filter(method, path)
    assert records, f"no {method} {path}"
    return records[-1].form


# ------------------------------------------------------------------ registration, config


def test_registry_resolves_notificator_to_adapter() -> None:
    """The entry point registers the adapter under its id (API-SPEC 1.0 naming)."""
    assert default_registry().get("notificator") is NotificatorProvider
    assert segmentkit_notificator.__all__ == ["NotificatorProvider"]


def test_dsn_host_selects_brand_base_url() -> None:
    """API-SPEC 1.1: every brand serves the same API under https://{host}/api/."""
    with connect(f"notificator://{KEY}@invionotifiche.it") as c:
        assert c.base_url == "https://invionotifiche.it/api/"
        assert c.adapter.auth_headers() == {"Authorization": f"Bearer {KEY}"}
        assert KEY not in repr(c)
    with connect("notificator", api_key=KEY, env={}) as c:
        assert c.base_url == "https://notificatorsms.com/api/"


def test_api_key_with_whitespace_is_refused() -> None:
    """API-SPEC 1.2: the key is read with `Bearer\\s(\\S+)`, so whitespace cannot work."""
    with pytest.raises(Exception, match="whitespace"):
        connect("notificator", api_key="abc def", env={})


# ------------------------------------------------------------------ errors


def _response(status: int, body: Any, method: str = "GET") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r.request = requests.Request(method, "https://notificatorsms.com/api/segments").prepare()
    return r


def _err(title: str, status: int | str) -> dict[str, Any]:
    return {"errors": [{"title": title, "status": status}]}


@pytest.mark.parametrize(
    ("status", "body", "method", "key_accepted", "expected"),
    [
        (
            401,
            _err("The request is missing the Bearer Authentication header.", "401"),
            "GET",
            False,
            AuthenticationError,
        ),
        (401, _err("Manca l'intestazione Bearer.", "401"), "POST", True, AuthenticationError),
        (401, _err("You do not have access to the API.", 401), "POST", True, AuthenticationError),
        (401, _err("You must fill all the required fields.", 401), "POST", False, ValidationError),
        (
            401,
            _err("Your have exceeded the limits of your current plan.", 401),
            "POST",
            False,
            QuotaExceededError,
        ),
        (
            401,
            _err("You must delete 2 segments as you have exceeded your plan limits.", 401),
            "POST",
            False,
            QuotaExceededError,
        ),
        (
            401,
            _err("Devi compilare tutti i campi obbligatori.", 401),
            "POST",
            True,
            ValidationError,
        ),
        (
            401,
            _err("Devi compilare tutti i campi obbligatori.", 401),
            "POST",
            False,
            AuthenticationError,
        ),
        (401, _err("Non hai accesso alle API.", 401), "GET", True, AuthenticationError),
        (400, _err("Bad request", 400), "POST", True, ValidationError),
        (
            404,
            _err("The resource you are looking for does not exist.", 404),
            "GET",
            True,
            NotFoundError,
        ),
        (
            429,
            _err("You reached the limit of requests in one minute, please wait.", 429),
            "GET",
            True,
            RateLimitError,
        ),
    ],
)
def test_error_envelope_maps_to_error_class(
    status: int, body: Any, method: str, key_accepted: bool, expected: type[Exception]
) -> None:
    """API-SPEC 1.3: titles, status codes (401 for missing fields and plan limits, string
    "401" for a missing Bearer header); translated titles fall back by status and by
    whether this client's key already worked."""
    with connect(f"notificator://{KEY}@notificatorsms.com") as c:
        adapter = c.adapter
        adapter._key.accepted = key_accepted  # type: ignore[attr-defined]
        error = adapter.error_from_response(_response(status, body, method), body)
    assert type(error) is expected
    assert body["errors"][0]["title"] in str(error)


def test_success_answer_is_not_an_error() -> None:
    """API-SPEC 1.3: `{"data": ...}` with 2xx is a success."""
    with connect(f"notificator://{KEY}@notificatorsms.com") as c:
        body = {"data": {"id": 1}}
        assert c.adapter.error_from_response(_response(200, body), body) is None


def test_bad_key_raises_authentication_error(start: Any) -> None:
    """API-SPEC 1.2: an unknown key answers 401 "You do not have access to the API."."""
    srv = start()
    with connect(srv.platform.bad_dsn(srv.base_url)) as bad, pytest.raises(AuthenticationError):
        bad.segments.get("1")


def test_blank_name_raises_validation_error(start: Any) -> None:
    """API-SPEC 1.3/1.6: a missing required field is answered with 401, not 400."""
    srv = start()
    c = srv.client()
    c.segments.list().to_list()  # the key is known good
    with pytest.raises(ValidationError, match="required fields"):
        c.segments.create("   ", recipients=[phone(1)])
    assert srv.log.count("POST", "segments", status=401) == 1


def test_plan_limit_raises_quota_exceeded(start: Any) -> None:
    """API-SPEC 1.3/1.6: segments_limit reached → 401 "Your have exceeded the limits…"."""
    srv = start()
    account = srv.platform.add_account(segments_limit=0)
    c = srv.client(account)
    with pytest.raises(QuotaExceededError, match="exceeded the limits"):
        c.segments.create("over quota", recipients=[phone(1)])


@pytest.mark.parametrize("segment_id", ["987654", "abc"])
def test_missing_segment_raises_not_found(start: Any, segment_id: str) -> None:
    """API-SPEC 1.1/1.6: unknown and non-numeric ids are 404."""
    srv = start()
    with pytest.raises(NotFoundError):
        srv.client().segments.get(segment_id)


def test_rate_limit_429_carries_retry_after_from_reset_header(start: Any) -> None:
    """API-SPEC 1.4: over the limit → 429 with X-RateLimit-Reset (seconds left)."""
    srv = start(rate_limit=2, rate_window=30.0)
    sid = srv.platform.seed_segment("s", [])
    c = srv.client(pacing=False, max_retries=0)
    c.segments.get(sid)
    c.segments.get(sid)
    with pytest.raises(RateLimitError) as info:
        c.segments.get(sid)
    assert info.value.retry_after is not None
    # API-SPEC 1.11c: "Reset: N" refuses for up to N+1 s (whole seconds), so N+1 is kept.
    assert 1 <= info.value.retry_after <= 31


@pytest.mark.timeout(60)
def test_paced_scan_of_150_reads_meets_no_429(start: Any) -> None:
    """API-SPEC 1.4: the fixed window is announced by headers; with rate_limit_window the
    client paces itself (scaled down: 30 requests per 1 s window)."""
    srv = start(rate_limit=30, rate_window=1.0)
    sid = srv.platform.seed_segment("paced", [])
    c = srv.client(rate_limit_window=1.0)
    for _ in range(150):
        c.segments.get(sid)
    assert srv.log.count(status=429) == 0
    assert c.stats.rate_limited == 0
    assert srv.log.count("GET", status=200) == 150


# ------------------------------------------------------------------ listing


def _seed_mixed(p: NotificatorPlatform) -> None:
    # The bulk member has opted out, so both builds count 0: the documented one links only
    # contacts that have not opted out, v2.0.1 links none at all (API-SPEC 1.6, 1.11c).
    p.add_contact(phone(1), opted_out=True)
    p.add_segment("Alpha bulk", "bulk", phone_numbers=[phone(1)], datetime="2024-01-01 10:00:00")
    p.add_segment(
        "beta custom", "custom", datetime="2024-02-01 10:00:00", last_datetime="2024-03-05 00:00:00"
    )
    p.add_segment(
        "ALPHA filter",
        "filter",
        filters=[("age", "bigger_than", "1")],
        datetime="2024-03-01 10:00:00",
    )
    p.add_segment("gamma", "custom", datetime="2024-04-01 10:00:00")


QUERIES: list[dict[str, Any]] = [
    {"search": "alpha"},
    {"provider_type": "custom"},
    {"kind": "static"},
    {"kind": "dynamic"},
    {
        "created_after": datetime(2024, 2, 1, 10, tzinfo=timezone.utc),
        "created_before": datetime(2024, 3, 15, tzinfo=timezone.utc),
    },
    {"updated_after": datetime(2024, 3, 1, tzinfo=timezone.utc)},
    {"order_by": "name"},
    {"order_by": "created_at", "descending": True},
    {"search": "a", "order_by": "recipient_count", "page_size": 10},
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(q))
def test_list_filters_give_same_answer_on_every_profile(start: Any, query: dict[str, Any]) -> None:
    """API-SPEC 1.5/1.6: v2.0.1 ignores search/type/date/order; the client re-applies them,
    so both builds return the same segments in the same order."""
    answers = []
    for profile in PROFILES:
        srv = start(profile=profile)
        _seed_mixed(srv.platform)
        answers.append([s.name for s in srv.client().segments.list(**query)])
    assert answers[0] == answers[1]
    assert answers[0], "the query matches something"


def test_list_sends_documented_filter_params(start: Any) -> None:
    """API-SPEC 1.6: search→search+search_by=name, type, datetime_field range, order_by,
    order_type, results_per_page=1000."""
    srv = start()
    srv.client().segments.list(
        "al",
        provider_type="bulk",
        created_after=datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc),
        order_by="updated_at",
        descending=True,
    ).to_list()
    query = srv.log.filter("GET", "segments")[0].query
    assert query == {
        "search": ["al"],
        "search_by": ["name"],
        "type": ["bulk"],
        "datetime_field": ["datetime"],
        "datetime_start": ["2024-01-01 00:00:00"],
        "order_by": ["last_datetime"],
        "order_type": ["DESC"],
        "page": ["1"],
        "results_per_page": ["1000"],
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_ordering_across_pages_is_global(start: Any, profile: str) -> None:
    """API-SPEC 1.5: v2.0.1 ignores order_by, so per-page sorting would be wrong across
    pages; with ordering and several pages every page is read and sorted once."""
    srv = start(profile=profile)
    names = [f"seg {(i * 7) % 25:02d}" for i in range(25)]
    for n in names:
        srv.platform.add_segment(n, "custom")
    listed = [s.name for s in srv.client().segments.list(order_by="name", page_size=10)]
    assert listed == sorted(names)
    assert srv.log.count("GET", "segments") == 3


@pytest.mark.parametrize("profile", PROFILES)
def test_paging_follows_meta_in_both_envelopes(start: Any, profile: str) -> None:
    """API-SPEC 1.5: meta.total vs meta.total_results, meta.page int vs string, links with
    `?page=N` or `?&page=N`; one request per page."""
    srv = start(profile=profile)
    for i in range(23):
        srv.platform.add_segment(f"s{i}", "custom")
    pages = list(srv.client().segments.list(page_size=10).pages())
    assert [len(p.items) for p in pages] == [10, 10, 3]
    assert pages[0].total == 23
    assert srv.log.count("GET", "segments") == 3


def test_list_total_contacts_string_is_coerced(start: Any) -> None:
    """API-SPEC 1.6 note: v2.0.1 lists send total_contacts as a JSON string."""
    srv = start(profile="v2.0.1")
    ids = [srv.platform.add_contact(phone(i)) for i in range(3)]
    srv.platform.add_segment("three", "custom", contacts_ids=ids)
    (seg,) = srv.client().segments.list()
    assert seg.raw["total_contacts"] == "3"
    assert seg.recipient_count == 3


# ------------------------------------------------------------------ mapping


def test_segment_mapping_kinds_rules_dates_extra(start: Any) -> None:
    """API-SPEC 1.6: bulk/custom static, filter dynamic with rules from settings; UTC
    datetimes; user_id and settings in extra; the wire object in raw."""
    srv = start()
    p = srv.platform
    sid = p.add_segment(
        "f",
        "filter",
        filters=[
            ("age", "bigger_than", "18"),
            ("city", "not_exact", "Roma"),
            ("tag", "starts_with", "v"),
        ],
        countries=["IT", "FR"],
        continents=["EU"],
        datetime="2024-05-06 07:08:09",
    )
    seg = srv.client().segments.get(str(sid))
    assert seg.kind is SegmentKind.dynamic
    assert seg.provider_type == "filter"
    assert seg.rules == (
        Rule(
            field="age",
            operator=Operator.greater_than,
            values=("18",),
            native_operator="bigger_than",
        ),
        Rule(
            field="city",
            operator=Operator.not_equals,
            values=("Roma",),
            native_operator="not_exact",
        ),
        Rule(
            field="tag", operator=Operator.starts_with, values=("v",), native_operator="starts_with"
        ),
        Rule(
            field="country",
            operator=Operator.in_,
            values=("IT", "FR"),
            native_operator="filters_countries",
        ),
        Rule(
            field="continent",
            operator=Operator.in_,
            values=("EU",),
            native_operator="filters_continents",
        ),
    )
    assert seg.created_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert seg.updated_at is None
    assert seg.extra["user_id"] == p.account.user_id
    assert seg.extra["settings"]["filters_countries"] == ["IT", "FR"]
    assert seg.raw["settings"]["contacts_ids"] == []
    bulk = srv.client().segments.get(str(p.add_segment("b", "bulk", phone_numbers=[phone(1)])))
    assert bulk.kind is SegmentKind.static
    assert bulk.recipient_count == 1


# ------------------------------------------------------------------ create


def test_create_from_phones_makes_bulk_segment(start: Any) -> None:
    """API-SPEC 1.6: phones → type=bulk with comma-separated E.164 `phone_numbers`, sent as
    form data (never JSON)."""
    srv = start()
    seg = srv.client().segments.create("bulk", recipients=[phone(1), phone(2)])
    assert seg.provider_type == "bulk"
    assert seg.recipient_count == 2
    form = _form(srv, "POST", r"^segments$")
    assert form["type"] == ["bulk"]
    assert form["phone_numbers"] == [f"{phone(1)},{phone(2)}"]
    post = srv.log.filter("POST", r"^segments$")[0]
    assert "json" not in post.headers.get("Content-Type", "")


def test_create_from_contact_ids_makes_custom_segment(start: Any) -> None:
    """API-SPEC 1.6: members given by contact id → type=custom with `contacts_ids`."""
    srv = start()
    ids = [srv.platform.add_contact(phone(i)) for i in range(2)]
    seg = srv.client().segments.create("custom", recipients=[{"id": str(i)} for i in ids])
    assert seg.provider_type == "custom"
    assert sorted(srv.platform.member_identities(seg.id)) == [phone(0), phone(1)]


def test_create_with_profile_data_keeps_names(start: Any) -> None:
    """API-SPEC 1.6/1.7: bulk creates bare contacts, so contacts with names and fields are
    made first and listing gives them back."""
    srv = start()
    c = srv.client()
    r = Recipient(phone=phone(1), name="Ada", email="ada@example.com", attributes={"tier": "x"})
    seg = c.segments.create("named", recipients=[r])
    (got,) = c.recipients.list(seg.id)
    assert (got.name, got.email, got.attributes) == ("Ada", "ada@example.com", {"tier": "x"})


def test_create_rules_send_filter_form_fields(start: Any) -> None:
    """API-SPEC 1.6: rules → type=filter with indexed key/condition/value and
    filters_countries[] / filters_continents[]."""
    srv = start()
    seg = srv.client().segments.create(
        "rules",
        rules=[
            {"field": "age", "operator": "less_than", "values": ["65"]},
            {"field": "name", "operator": "contains", "values": ["an"]},
            {"field": "country", "operator": "in", "values": ["IT", "ES"]},
            {"field": "continent", "operator": "equals", "values": ["EU"]},
        ],
    )
    form = _form(srv, "POST", r"^segments$")
    assert form["filters_custom_parameter_key[0]"] == ["age"]
    assert form["filters_custom_parameter_condition[0]"] == ["lower_than"]
    assert form["filters_custom_parameter_value[0]"] == ["65"]
    assert form["filters_custom_parameter_condition[1]"] == ["contains"]
    assert form["filters_countries[]"] == ["IT", "ES"]
    assert form["filters_continents[]"] == ["EU"]
    assert [r.field for r in seg.rules] == ["age", "name", "country", "continent"]


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ([{"field": "age", "operator": "between", "values": ["1", "9"]}], "all"),
        ([{"field": "d", "operator": "before", "values": ["2024-01-01"]}], "all"),
        ([{"field": "d", "operator": "after", "values": ["2024-01-01"]}], "all"),
        (
            [
                {"field": "a", "operator": "equals", "values": ["1"]},
                {"field": "b", "operator": "equals", "values": ["2"]},
            ],
            "any",
        ),
        ([{"field": "a", "operator": "in", "values": ["1", "2"]}], "all"),
        ([{"field": "country", "operator": "contains", "values": ["I"]}], "all"),
        ([{"field": "k" * 65, "operator": "equals", "values": ["1"]}], "all"),
    ],
)
def test_inexpressible_rules_raise_before_any_request(
    start: Any, rules: list[dict[str, Any]], match: str
) -> None:
    """API-SPEC 1.6: only AND of the ten conditions plus country/continent lists exist."""
    srv = start()
    c = srv.client()
    with pytest.raises(UnsupportedOperationError, match="notificator") as info:
        c.segments.create("bad", rules=rules, match=match)  # type: ignore[arg-type]
    assert len(srv.log) == 0
    if match == "all":
        assert rules[0]["field"][:20] in str(info.value)


@pytest.mark.parametrize("answer", ["full", "id"])
def test_create_accepts_both_answer_styles(start: Any, answer: str) -> None:
    """API-SPEC 1.6: 201 with the full object (source) or {"data":{"id":N}} (docs)."""
    srv = start(create_answer=answer)
    seg = srv.client().segments.create("styled", recipients=[phone(1)])
    assert seg.name == "styled"
    assert seg.provider_type == "bulk"
    assert seg.raw["name"] == "styled"


def test_create_applied_then_lost_is_not_duplicated(start: Any) -> None:
    """API-SPEC 1.6: create is a plain POST; a create whose answer was lost is found by
    name among segments that did not exist before, not sent again."""
    srv = start()
    srv.platform.add_segment("twin", "custom")  # an older namesake must not be mistaken
    srv.faults.add("applied_then_lost", 1.0, methods=("POST",), path=r"^segments$", limit=1)
    seg = srv.client().segments.create("twin", recipients=[phone(1)])
    assert srv.log.count("POST", r"^segments$") == 1
    twins = [s for s in srv.platform.segments.values() if s.name == "twin"]
    assert len(twins) == 2
    assert seg.id == str(max(s.id for s in twins))


@pytest.mark.parametrize("profile", PROFILES)
def test_contact_lookups_and_the_lost_create_lookup_ask_1000_a_page(
    start: Any, profile: str
) -> None:
    """API-SPEC 1.5: without ``results_per_page`` a page holds 25 (1000 is the largest allowed
    value). The contact search, the contact scan when v2.0.1 ignores the search, and the
    listing that finds a create whose answer was lost all ask for 1000 a page."""
    srv = start(profile=profile)
    srv.platform.add_contact(phone(1), "One")
    seg = srv.platform.add_segment("c", "custom")
    client = srv.client()
    client.recipients.add(str(seg), [Recipient(phone=phone(1)), Recipient(phone=phone(2))])
    srv.faults.add("applied_then_lost", 1.0, methods=("POST",), path=r"^segments$", limit=1)
    client.segments.create("twin", recipients=[phone(3)])
    contacts = srv.log.filter("GET", r"^contacts$")
    searches = [r for r in contacts if r.query.get("search")]
    assert [r.query["search_by"] for r in searches] == [["phone_number"]] * len(searches)
    assert searches, "the contacts were searched"
    lookups = [r for r in srv.log.filter("GET", r"^segments$") if r.query.get("search")]
    assert [r.query["search"] for r in lookups] == [["twin"]] * len(lookups)
    assert lookups, "the lost create was looked up"
    for record in contacts + lookups:
        assert record.query["results_per_page"] == ["1000"], record.query


def test_create_lost_before_applied_is_sent_again(start: Any) -> None:
    """API-SPEC 1.6: when the lookup finds nothing new, the create is re-sent once."""
    srv = start()
    srv.faults.add("reset", 1.0, methods=("POST",), path=r"^segments$", limit=1)
    seg = srv.client().segments.create("again", recipients=[phone(1)])
    assert [s.name for s in srv.platform.segments.values()] == ["again"]
    assert seg.name == "again"


# ------------------------------------------------------------------ update


def test_rename_filter_segment_keeps_filters(start: Any) -> None:
    """API-SPEC 1.6: update replaces settings with what is sent, so a rename re-sends them."""
    srv = start()
    p = srv.platform
    sid = p.add_segment("f", "filter", filters=[("age", "bigger_than", "18")], countries=["IT"])
    before = dict(p.segments[sid].settings)
    seg = srv.client().segments.update(str(sid), name="renamed")
    assert seg.name == "renamed"
    assert p.segments[sid].settings == before


def test_rename_custom_segment_keeps_contacts(start: Any) -> None:
    """API-SPEC 1.6: a custom segment renamed with only `name` would lose its ids."""
    srv = start()
    p = srv.platform
    ids = [p.add_contact(phone(i)) for i in range(3)]
    sid = p.add_segment("c", "custom", contacts_ids=ids)
    srv.client().segments.update(str(sid), name="renamed")
    assert p.segments[sid].settings["contacts_ids"] == ids
    assert p.segments[sid].name == "renamed"


def test_fake_update_with_name_only_drops_settings(start: Any) -> None:
    """API-SPEC 1.6: the platform itself replaces settings (what the adapter guards against);
    its answer omits `name`."""
    srv = start()
    sid = srv.platform.add_segment("f", "filter", filters=[("age", "exact", "1")])
    body = srv.client().request("POST", f"segments/{sid}", data={"name": "x"})
    assert "name" not in body["data"]
    assert srv.platform.segments[sid].settings == {"contacts_ids": []}
    assert srv.platform.segments[sid].total_contacts == 0


def test_update_v201_html_500_raises_server_error_without_retry(start: Any) -> None:
    """API-SPEC 1.6: v2.0.1 answers every segment update with an HTML 500 and applies
    nothing; the error names the build and the POST is not re-sent."""
    srv = start(profile="v2.0.1")
    sid = srv.platform.add_segment("s", "custom")
    with pytest.raises(ServerError, match=r"66text v2\.0\.1") as info:
        srv.client().segments.update(str(sid), name="new")
    assert "<html" not in str(info.value).lower()
    assert srv.log.count("POST") == 1
    assert srv.platform.segments[sid].name == "s"


def test_update_applied_then_html_500_is_reconciled(start: Any) -> None:
    """API-SPEC 1.6/1.7: a 500 after the change was saved is settled by reading back."""
    srv = start(profile="v2.0.1", segment_update="applied_html500")
    sid = srv.platform.add_segment("s", "custom")
    seg = srv.client().segments.update(str(sid), name="new")
    assert seg.name == "new"
    assert srv.log.count("POST") == 1


def test_update_not_kept_by_platform_raises(start: Any) -> None:
    """API-SPEC 1.6: unknown country codes are dropped; the read-back notices."""
    srv = start()
    sid = srv.platform.add_segment("f", "filter", countries=["IT"])
    with pytest.raises(UnexpectedResponseError, match="does not hold"):
        srv.client().segments.update(
            str(sid), rules=[{"field": "country", "operator": "in", "values": ["QQ"]}]
        )


def test_update_rules_replace_filters(start: Any) -> None:
    """API-SPEC 1.6: rules → filter settings, verified after the write."""
    srv = start()
    sid = srv.platform.add_segment("f", "filter", countries=["IT"])
    seg = srv.client().segments.update(
        str(sid), rules=[{"field": "age", "operator": "equals", "values": ["7"]}]
    )
    assert [(r.field, r.native_operator) for r in seg.rules] == [("age", "exact")]


def test_delete_empty_body_then_not_found(start: Any) -> None:
    """API-SPEC 1.6: DELETE answers 200 with an empty body; a second one is 404."""
    srv = start()
    sid = str(srv.platform.add_segment("d", "custom"))
    c = srv.client()
    c.segments.delete(sid)
    assert srv.log.filter("DELETE")[0].status == 200
    with pytest.raises(NotFoundError):
        c.segments.delete(sid)


# ------------------------------------------------------------------ recipients


def _seed_filter_world(p: NotificatorPlatform) -> dict[str, int]:
    return {
        "adult_it": p.add_contact(phone(1), "A", {"age": "30", "city": "Roma"}),
        "nonnum": p.add_contact(phone(2), "B", {"age": "abc", "city": "MILANO"}),
        "opted": p.add_contact(phone(3), "C", {"age": "40", "city": "Roma"}, opted_out=True),
        "nokey": p.add_contact(phone(4), "D", {}),
        "adult_gb": p.add_contact("+447400123456", "E", {"age": "50", "city": "London"}),
    }


@pytest.mark.parametrize(
    ("filters", "countries", "expected"),
    [
        ([("age", "bigger_than", "18")], None, {"adult_it", "adult_gb"}),
        ([("age", "lower_than", "1")], None, {"nonnum"}),
        ([("age", "bigger_than", "18")], ["IT"], {"adult_it"}),
        # case-sensitive: "MILANO" is not "milano" (API-SPEC 1.11c)
        ([("city", "not_exact", "milano")], None, {"adult_it", "nonnum", "adult_gb"}),
        ([("city", "not_exact", "MILANO")], None, {"adult_it", "adult_gb"}),
        ([("city", "exact", "roma")], None, set()),
        ([("city", "starts_with", "lon")], None, set()),
        ([("city", "contains", "ILA")], None, {"nonnum"}),
        ([("city", "not_contains", "x")], None, {"adult_it", "nonnum", "adult_gb"}),
        ([], ["GB"], {"adult_gb"}),
        ([], None, set()),
    ],
)
def test_filter_members_follow_platform_semantics(
    start: Any,
    filters: list[tuple[str, str, str]],
    countries: list[str] | None,
    expected: set[str],
) -> None:
    """API-SPEC 1.6: AND; opted-out excluded; missing key never matches (even negated);
    non-numeric is 0; comparisons case-sensitive (1.11c); no filters → nobody. The answer is
    what the platform would pick now, and agrees with its own total_contacts."""
    srv = start()
    p = srv.platform
    ids = _seed_filter_world(p)
    sid = p.add_segment("f", "filter", filters=filters, countries=countries)
    got = {r.id for r in srv.client().recipients.list(sid)}
    assert got == {str(ids[k]) for k in expected}
    assert p.segments[sid].total_contacts == len(expected)
    if not filters and not countries:
        assert srv.log.count("GET", "contacts") == 0


def test_filter_members_stream_one_page_per_contacts_page(start: Any) -> None:
    """API-SPEC 1.5/1.6: contacts are read 1000 at a time and each page is yielded as it
    comes, so memory does not grow with the number of contacts."""
    srv = start()
    p = srv.platform
    for i in range(2100):
        p.add_contact(phone(i), custom_parameters={"n": str(i)})
    sid = p.add_segment("f", "filter", filters=[("n", "bigger_than", "99")])
    pages = list(srv.client().recipients.list(sid).pages())
    assert [len(pg.items) for pg in pages] == [1000, 1000, 0]  # newest contacts first
    assert srv.log.count("GET", r"^contacts$") == 3


def test_custom_members_with_one_id_use_get_by_id(start: Any) -> None:
    """API-SPEC 1.7: a single id costs one GET /contacts/{id}, not a contacts scan."""
    srv = start()
    p = srv.platform
    for i in range(30):
        p.add_contact(phone(i))
    sid = p.add_segment("c", "custom", contacts_ids=[7])
    srv.log.clear()
    (r,) = srv.client().recipients.list(sid)
    assert r.id == "7"
    assert r.phone == phone(6)
    assert [rec.path for rec in srv.log] == [f"segments/{sid}", "contacts/7"]


def test_custom_members_many_ids_page_contacts(start: Any) -> None:
    """API-SPEC 1.7: many ids → page /contacts at 1000 (one request here)."""
    srv = start()
    p = srv.platform
    ids = [
        p.add_contact(phone(i), "n", {"first_name": "F", "email": "bad-email"}) for i in range(40)
    ]
    sid = p.add_segment("c", "custom", contacts_ids=ids[:25])
    got = srv.client().recipients.list(sid).to_list()
    assert sorted(int(r.id or 0) for r in got) == ids[:25]
    assert got[0].first_name == "F"
    assert got[0].email is None
    assert got[0].attributes == {"email": "bad-email"}
    assert got[0].country == "IT"
    assert srv.log.count("GET", r"^contacts") == 1


def test_bulk_members_are_phone_numbers_enriched_from_contacts(start: Any) -> None:
    """API-SPEC 1.6: bulk members are settings.phone_numbers, enriched by contacts_ids."""
    srv = start()
    p = srv.platform
    p.add_contact(phone(1), "Ada", {"last_name": "Rossi", "plan": "gold"})
    p.add_contact(phone(2), "Opted", opted_out=True)
    sid = p.add_segment("b", "bulk", phone_numbers=[phone(1), phone(2), phone(3)])
    got = {r.phone: r for r in srv.client().recipients.list(sid)}
    assert set(got) == {phone(1), phone(2), phone(3)}
    assert got[phone(1)].name == "Ada"
    assert got[phone(1)].last_name == "Rossi"
    assert got[phone(1)].attributes == {"plan": "gold"}


def test_add_to_filter_segment_is_unsupported(start: Any) -> None:
    """API-SPEC 1.6: filter membership follows the rules."""
    srv = start()
    sid = srv.platform.add_segment("f", "filter", countries=["IT"])
    with pytest.raises(UnsupportedOperationError, match="follow its rules"):
        srv.client().recipients.add(sid, [phone(1)])
    with pytest.raises(UnsupportedOperationError):
        srv.client().recipients.remove(sid, [phone(1)])


def test_add_to_bulk_is_one_update_with_full_settings(start: Any) -> None:
    """API-SPEC 1.6: bulk add = union of phone numbers in one update call."""
    srv = start()
    sid = srv.platform.add_segment("b", "bulk", phone_numbers=[phone(1)])
    srv.log.clear()
    result = srv.client().recipients.add(sid, [phone(2), phone(1), phone(3)])
    assert [o.status for o in result] == [
        OutcomeStatus.added,
        OutcomeStatus.unchanged,
        OutcomeStatus.added,
    ]
    assert srv.log.count("POST") == 1
    assert _form(srv, "POST", f"segments/{sid}")["phone_numbers"] == [
        f"{phone(1)},{phone(2)},{phone(3)}"
    ]


def test_remove_from_bulk_by_phone_and_contact_id(start: Any) -> None:
    """API-SPEC 1.6: bulk remove = difference, one update; ids resolve through contacts."""
    srv = start()
    p = srv.platform
    cid = p.add_contact(phone(2))
    sid = p.add_segment("b", "bulk", phone_numbers=[phone(1), phone(2), phone(3)])
    result = srv.client().recipients.remove(sid, [phone(1), str(cid), phone(9)])
    assert [o.status for o in result] == [
        OutcomeStatus.removed,
        OutcomeStatus.removed,
        OutcomeStatus.unchanged,
    ]
    assert p.member_identities(sid) == [phone(3)]


@pytest.mark.parametrize("profile", PROFILES)
def test_add_to_custom_creates_missing_contacts(start: Any, profile: str) -> None:
    """API-SPEC 1.7: contacts are created with phone_number, name and custom parameters;
    existing ones are reused (v2.0.1 ignores the phone search, so contacts are paged)."""
    srv = start(profile=profile, segment_update="ok")
    p = srv.platform
    existing = p.add_contact(phone(1))
    sid = p.add_segment("c", "custom")
    r = Recipient(phone=phone(2), name="Bo", first_name="B", attributes={"k": "v"})
    result = srv.client().recipients.add(sid, [phone(1), r])
    assert [o.status for o in result] == [OutcomeStatus.added, OutcomeStatus.added]
    made = next(c for c in p.contacts.values() if c.phone_number == phone(2))
    assert made.name == "Bo"
    assert made.custom_parameters == {"k": "v", "first_name": "B"}
    assert p.segments[sid].settings["contacts_ids"] == [existing, made.id]


def test_add_number_of_another_account_fails_with_reason(start: Any) -> None:
    """API-SPEC 1.7: numbers are unique platform-wide; a duplicate create answers id 0."""
    srv = start()
    p = srv.platform
    other = p.add_account()
    p.add_contact(phone(5), account=other)
    sid = p.add_segment("c", "custom")
    result = srv.client().recipients.add(sid, [phone(5), phone(6)])
    assert [o.status for o in result] == [OutcomeStatus.failed, OutcomeStatus.added]
    assert "another account" in (result.items[0].reason or "")


def test_add_opted_out_contact_fails_with_reason(start: Any) -> None:
    """API-SPEC 1.6: custom segments drop opted-out contacts."""
    srv = start()
    p = srv.platform
    p.add_contact(phone(1), opted_out=True)
    sid = p.add_segment("c", "custom")
    result = srv.client().recipients.add(sid, [phone(1)])
    assert result.items[0].status is OutcomeStatus.failed
    assert "opted out" in (result.items[0].reason or "")


def test_add_by_contact_id_to_custom(start: Any) -> None:
    """API-SPEC 1.6: custom segments hold contact ids (accepts_ids_on_add); unknown ids are
    dropped by the platform and reported as failed."""
    srv = start()
    p = srv.platform
    cid = p.add_contact(phone(1))
    sid = p.add_segment("c", "custom")
    result = srv.client().recipients.add(sid, [{"id": str(cid)}, {"id": "999"}])
    assert [o.status for o in result] == [OutcomeStatus.added, OutcomeStatus.failed]
    assert p.member_identities(sid) == [phone(1)]


def test_remove_from_custom_by_phone(start: Any) -> None:
    """API-SPEC 1.6/1.7: a phone is resolved to its contact id, then one update."""
    srv = start()
    p = srv.platform
    ids = [p.add_contact(phone(i)) for i in range(3)]
    sid = p.add_segment("c", "custom", contacts_ids=ids)
    result = srv.client().recipients.remove(sid, [phone(1)])
    assert [o.status for o in result] == [OutcomeStatus.removed]
    assert p.segments[sid].settings["contacts_ids"] == [ids[0], ids[2]]


class _OverwritingPlatform(NotificatorPlatform):
    """After the first segment update, "another writer" saves its stale copy plus its own
    member: the classic lost update."""

    intruder = 0

    def update_segment(self, request: Any, account: Any, sid: str) -> Any:
        resp = super().update_segment(request, account, sid)
        if self.intruder:
            seg = self.segments[int(sid)]
            seg.settings = {"contacts_ids": [1, self.intruder]}
            self.intruder = 0
        return resp


def test_concurrent_overwrite_is_merged_not_lost(mode: str) -> None:
    """API-SPEC 1.6 (settings replaced whole): the adapter re-reads after writing and
    merges again, so both its member and the other writer's survive."""
    platform = _OverwritingPlatform()
    a = platform.add_contact(phone(1))
    platform.intruder = platform.add_contact(phone(2))
    sid = platform.add_segment("c", "custom", contacts_ids=[a])
    with FakeServer(platform, mode) as srv:  # type: ignore[arg-type]
        result = srv.client().recipients.add(sid, [phone(3)])
    assert [o.status for o in result] == [OutcomeStatus.added]
    assert sorted(platform.member_identities(sid)) == [phone(1), phone(2), phone(3)]
    assert srv.log.count("POST", f"segments/{sid}") == 2


@pytest.mark.timeout(60)
def test_parallel_adders_keep_both_members(mode: str) -> None:
    """API-SPEC 1.6: two clients of one process adding at once both end up in the segment
    (their read-modify-writes of one segment are serialised; across processes only the
    re-read-and-merge protects, as the platform has no versions)."""
    platform = NotificatorPlatform()
    sid = platform.add_segment("c", "bulk", phone_numbers=[phone(0)])
    with FakeServer(platform, mode) as srv:  # type: ignore[arg-type]
        srv.faults.add("latency", 1.0, methods=("POST",), seconds=0.05)
        outcomes: list[Any] = []

        def add(p: str) -> None:
            outcomes.append(srv.client().recipients.add(sid, [p]))

        threads = [threading.Thread(target=add, args=(phone(i),)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert all(r.ok for r in outcomes)
    assert sorted(platform.member_identities(sid)) == [phone(0), phone(1), phone(2)]


def test_contacts_reachable_through_escape_hatch(start: Any) -> None:
    """API-SPEC 1.7: any endpoint via client.request, with the same error handling."""
    srv = start()
    cid = srv.platform.add_contact(phone(1), "Ada")
    c = srv.client()
    assert c.request("GET", f"contacts/{cid}")["data"]["name"] == "Ada"
    with pytest.raises(NotFoundError):
        c.request("GET", "contacts/424242")


@responses.activate
def test_translated_401_on_write_after_success_is_validation_error() -> None:
    """API-SPEC 1.3: a translated brand's 401 title on a write, with a key that already
    worked, is the platform refusing the input, not a bad key."""
    base = "https://invionotifiche.it/api/"
    responses.get(
        f"{base}segments/1", json={"data": {"id": 1, "name": "a", "type": "bulk", "settings": {}}}
    )
    responses.get(f"{base}segments", json={"data": [], "meta": {"total_pages": 0}})
    responses.post(
        f"{base}segments",
        status=401,
        json={"errors": [{"title": "Devi compilare tutti i campi.", "status": 401}]},
    )
    with connect(f"notificator://{KEY}@invionotifiche.it") as c:
        c.segments.get("1")
        with pytest.raises(ValidationError, match="Devi compilare"):
            c.segments.create("x", recipients=[phone(1)])


@pytest.mark.parametrize("link", ["segments?page=2", "segments?&page=2"])
@responses.activate
def test_links_without_total_pages_drive_paging(link: str) -> None:
    """API-SPEC 1.5: when meta has no total_pages, `links.next` in either form (docs
    `?page=N`, source `?&page=N`) gives the next page; meta.page may be a string."""
    base = "https://notificatorsms.com/api/"

    def seg(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "name": f"s{i}",
            "type": "bulk",
            "settings": [],
            "total_contacts": str(i),
            "datetime": "2024-01-01 00:00:00",
        }

    responses.get(
        f"{base}segments",
        match=[responses.matchers.query_param_matcher({"page": "1", "results_per_page": "1000"})],
        json={"data": [seg(1)], "meta": {"page": "1"}, "links": {"next": base + link}},
    )
    responses.get(
        f"{base}segments",
        match=[responses.matchers.query_param_matcher({"page": "2", "results_per_page": "1000"})],
        json={"data": [seg(2)], "meta": {"page": "2"}, "links": {"next": None}},
    )
    with connect(f"notificator://{KEY}@notificatorsms.com") as c:
        got = c.segments.list().to_list()
    assert [(s.id, s.recipient_count) for s in got] == [("1", 1), ("2", 2)]


def test_contact_create_lost_answer_is_reconciled(start: Any) -> None:
    """API-SPEC 1.7: a contact create whose answer was lost is looked up by phone, not
    re-sent (which would answer id 0 for the now-duplicate number)."""
    srv = start()
    sid = srv.platform.add_segment("c", "custom")
    srv.faults.add("applied_then_lost", 1.0, methods=("POST",), path=r"^contacts$", limit=1)
    result = srv.client().recipients.add(sid, [phone(1)])
    assert [o.status for o in result] == [OutcomeStatus.added]
    assert srv.log.count("POST", r"^contacts$") == 1
    assert srv.platform.member_identities(sid) == [phone(1)]
