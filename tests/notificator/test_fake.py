"""The 66text fake itself follows API-SPEC Part 1 (raw HTTP, no adapter involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from segmentkit.testing import FakeServer

from .conftest import phone

FIXTURES = Path(__file__).parent / "fixtures"


def _auth(srv: FakeServer, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key or srv.platform.account.api_key}"}  # type: ignore[attr-defined]


def _get(srv: FakeServer, path: str, **kw: Any) -> requests.Response:
    return requests.get(srv.base_url + path, headers=_auth(srv), timeout=5, **kw)


def test_missing_bearer_is_401_with_string_status(start: Any) -> None:
    """API-SPEC 1.2: no Bearer header → 401, status as the string "401"."""
    srv = start()
    r = requests.get(srv.base_url + "segments", timeout=5)
    assert r.status_code == 401
    assert r.json() == {
        "errors": [
            {"title": "The request is missing the Bearer Authentication header.", "status": "401"}
        ]
    }
    r = requests.get(srv.base_url + "segments", headers={"Authorization": "bearer x"}, timeout=5)
    assert r.json()["errors"][0]["status"] == "401", "'Bearer' is case-sensitive"


def test_unknown_key_is_401_no_access(start: Any) -> None:
    """API-SPEC 1.2: unknown key → 401 "You do not have access to the API." (int status)."""
    srv = start()
    r = requests.get(srv.base_url + "segments", headers=_auth(srv, "f" * 32), timeout=5)
    assert r.json() == {"errors": [{"title": "You do not have access to the API.", "status": 401}]}
    assert "X-RateLimit-Limit" not in r.headers, "rejected before the limiter"


def test_keys_are_32_lowercase_hex(start: Any) -> None:
    """API-SPEC 1.2: md5-like keys."""
    srv = start()
    key = srv.platform.account.api_key
    assert len(key) == 32
    assert set(key) <= set("0123456789abcdef")


def test_rate_limit_headers_follow_the_source(start: Any) -> None:
    """API-SPEC 1.4: Limit always, Remaining while ≥ 0, Reset (seconds left) when over."""
    srv = start(rate_limit=2, rate_window=60.0)
    first, second, third = (_get(srv, "segments") for _ in range(3))
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert second.headers["X-RateLimit-Remaining"] == "0"
    assert third.status_code == 429
    assert "X-RateLimit-Remaining" not in third.headers
    assert 0 < int(third.headers["X-RateLimit-Reset"]) <= 60
    assert third.json()["errors"][0]["title"].startswith("You reached the limit")


def test_admin_accounts_are_not_limited(start: Any) -> None:
    """API-SPEC 1.4: users with type = 1 are exempt."""
    srv = start(rate_limit=1)
    admin = srv.platform.add_account(is_admin=True)
    for _ in range(3):
        r = requests.get(srv.base_url + "segments", headers=_auth(srv, admin.api_key), timeout=5)
        assert r.status_code == 200


@pytest.mark.parametrize(
    ("profile", "meta_keys", "next_link", "page_value"),
    [
        (
            "documented",
            {"page", "results_per_page", "total", "total_pages"},
            "segments?results_per_page=10&page=N",
            2,
        ),
        (
            "v2.0.1",
            {"page", "results_per_page", "total_results", "total_pages"},
            # observed: a valid size is carried in the links (API-SPEC 1.11c)
            "segments?results_per_page=10&page=N",
            "2",
        ),
    ],
)
def test_list_meta_and_links_per_profile(
    start: Any, profile: str, meta_keys: set[str], next_link: str, page_value: Any
) -> None:
    """API-SPEC 1.5: documented vs source meta keys, page echo and link forms (the
    documented links repeating the applied query is a guess)."""
    srv = start(profile=profile)
    for i in range(25):
        srv.platform.add_segment(f"s{i}", "custom")
    body = _get(srv, "segments", params={"page": "2", "results_per_page": "10"}).json()
    assert set(body["meta"]) == meta_keys
    assert body["meta"]["page"] == page_value
    assert body["meta"]["total_pages"] == 3
    assert body["links"]["next"].endswith(next_link.replace("N", "3"))
    assert body["links"]["prev"].endswith(next_link.replace("N", "1"))
    assert [s["id"] for s in body["data"]] == list(range(15, 5, -1)), "segment_id DESC"


def test_results_per_page_outside_allowed_values_is_25(start: Any) -> None:
    """API-SPEC 1.5: only 10/25/50/100/250/500/1000; a page past the end is empty."""
    srv = start()
    for i in range(30):
        srv.platform.add_segment(f"s{i}", "custom")
    assert len(_get(srv, "segments", params={"results_per_page": "7"}).json()["data"]) == 25
    assert _get(srv, "segments", params={"page": "9"}).json()["data"] == []


def test_v201_ignores_filters_and_sends_string_totals(start: Any) -> None:
    """API-SPEC 1.5/1.6: filters ignored, total_contacts a string in lists, int in GET."""
    srv = start(profile="v2.0.1")
    # a custom segment with one member (v2.0.1 bulk segments count 0, API-SPEC 1.11c)
    srv.platform.add_segment("a", "custom", contacts_ids=[srv.platform.add_contact(phone(1))])
    srv.platform.add_segment("b", "bulk")
    body = _get(srv, "segments", params={"type": "custom", "search": "a", "search_by": "name"})
    assert [s["name"] for s in body.json()["data"]] == ["b", "a"]
    assert body.json()["data"][1]["total_contacts"] == "1"
    assert _get(srv, "segments/1").json()["data"]["total_contacts"] == 1


def test_documented_filters_and_order_are_honoured(start: Any) -> None:
    """API-SPEC 1.5/1.6: search LIKE (case-insensitive), type, order_by with ASC default."""
    srv = start()
    for name in ("Bravo", "alpha", "charlie"):
        srv.platform.add_segment(name, "custom")
    srv.platform.add_segment("Alpine", "bulk")
    data = _get(
        srv, "segments", params={"search": "AL", "search_by": "name", "type": "custom"}
    ).json()["data"]
    assert [s["name"] for s in data] == ["alpha"]
    data = _get(srv, "segments", params={"order_by": "name"}).json()["data"]
    assert [s["name"] for s in data] == ["alpha", "Alpine", "Bravo", "charlie"]


def test_segment_total_contacts_is_a_snapshot_without_opted_out(start: Any) -> None:
    """API-SPEC 1.6: counted at write time, opted-out excluded, not refreshed later."""
    srv = start()
    p = srv.platform
    a, b = p.add_contact(phone(1)), p.add_contact(phone(2), opted_out=True)
    sid = p.add_segment("c", "custom", contacts_ids=[a, b, 999])
    assert p.segments[sid].settings == {"contacts_ids": [a]}
    assert p.segments[sid].total_contacts == 1
    p.set_opted_out(a)
    assert p.segments[sid].total_contacts == 1


def test_bulk_create_inserts_unknown_numbers_as_contacts(start: Any) -> None:
    """API-SPEC 1.6: phone_numbers split on newlines/commas, normalised, unknown numbers
    become contacts; invalid entries stay as null."""
    srv = start()
    r = requests.post(
        srv.base_url + "segments",
        headers=_auth(srv),
        data={
            "name": "<b>bulk</b> ",
            "type": "bulk",
            "phone_numbers": f"{phone(1)}\n{phone(2)},{phone(1)},abc",
        },
        timeout=5,
    )
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["name"] == "bulk"
    assert data["settings"]["phone_numbers"] == [phone(1), phone(2), None]
    assert len(data["settings"]["contacts_ids"]) == 2
    assert data["total_contacts"] == 2


def test_create_without_type_is_filter_and_delete_is_empty(start: Any) -> None:
    """API-SPEC 1.6: missing type → filter with no filters (0 contacts); DELETE → 200 empty."""
    srv = start()
    r = requests.post(srv.base_url + "segments", headers=_auth(srv), data={"name": "x"}, timeout=5)
    data = r.json()["data"]
    assert (data["type"], data["settings"], data["total_contacts"]) == (
        "filter",
        {"contacts_ids": []},
        0,
    )
    d = requests.delete(srv.base_url + f"segments/{data['id']}", headers=_auth(srv), timeout=5)
    assert (d.status_code, d.content) == (200, b"")


def test_contact_duplicate_number_answers_id_zero(start: Any) -> None:
    """API-SPEC 1.7: UNIQUE phone_number across accounts; a duplicate insert gives id 0,
    and the create answer nulls custom_parameters/country/continent."""
    srv = start()
    other = srv.platform.add_account()
    srv.platform.add_contact(phone(1), account=other)
    r = requests.post(
        srv.base_url + "contacts", headers=_auth(srv), data={"phone_number": phone(1)}, timeout=5
    )
    assert r.status_code == 201
    assert r.json()["data"]["id"] == 0
    r = requests.post(
        srv.base_url + "contacts",
        headers=_auth(srv),
        data={
            "phone_number": phone(2),
            "custom_parameter_key[0]": "age",
            "custom_parameter_value[0]": "18",
        },
        timeout=5,
    )
    made = r.json()["data"]
    assert made["custom_parameters"] is None
    assert made["country_code"] is None
    stored = _get(srv, f"contacts/{made['id']}").json()["data"]
    assert stored["custom_parameters"] == {"age": "18"}
    assert (stored["country_code"], stored["continent_code"]) == ("IT", "EU")


def test_missing_required_field_is_401(start: Any) -> None:
    """API-SPEC 1.3: validation failures use 401, not the documented 400."""
    srv = start()
    r = requests.post(srv.base_url + "contacts", headers=_auth(srv), data={}, timeout=5)
    assert r.status_code == 401
    assert r.json()["errors"][0]["title"] == "You must fill all the required fields."


def test_v201_contact_update_saves_then_html_500(start: Any) -> None:
    """API-SPEC 1.7: the change is stored, then the answer is an HTML 500 page labelled
    application/json."""
    srv = start(profile="v2.0.1")
    cid = srv.platform.add_contact(phone(1), "old")
    r = requests.post(
        srv.base_url + f"contacts/{cid}", headers=_auth(srv), data={"name": "new"}, timeout=5
    )
    assert r.status_code == 500
    # the real server's 841-byte page, byte for byte (observed, API-SPEC 1.11c)
    assert r.content == (FIXTURES / "66text-v2.0.1-500.html").read_bytes()
    assert len(r.content) == 841
    assert r.headers["Content-Type"].startswith("application/json")
    assert srv.platform.contacts[cid].name == "new"


def test_unrouted_method_is_404_envelope(start: Any) -> None:
    """API-SPEC 1.1: only GET/POST/DELETE exist; others fall through to 404."""
    srv = start()
    r = requests.put(srv.base_url + "segments/1", headers=_auth(srv), timeout=5)
    assert r.status_code == 404
    assert r.json()["errors"][0]["title"] == "The resource you are looking for does not exist."


def test_foreign_segment_is_404(start: Any) -> None:
    """API-SPEC 1.6: a segment of another user is 404."""
    srv = start()
    other = srv.platform.add_account()
    sid = srv.platform.add_segment("theirs", "custom", account=other)
    assert _get(srv, f"segments/{sid}").status_code == 404


@pytest.mark.parametrize("fraction", [0.02, 0.86])
def test_v201_window_ends_on_the_first_whole_second_after_60s(fraction: float) -> None:
    """API-SPEC 1.11c: the window opened at t0 refuses until floor(t0) + 61; during its last
    partial second the 429 says ``X-RateLimit-Reset: 0``; a 429 has no Remaining and no
    Retry-After. Driven by a hand-moved clock, so it takes no time."""
    from segmentkit.testing.app import ManualClock
    from segmentkit_notificator.fake import NotificatorPlatform

    clock = ManualClock(5000 + fraction)
    platform = NotificatorPlatform(profile="v2.0.1", clock=clock)
    with FakeServer(platform, mode="socket") as srv:
        assert _get(srv, "segments").headers["X-RateLimit-Remaining"] == "59"
        for _ in range(59):
            _get(srv, "segments")
        over = _get(srv, "segments")
        assert over.status_code == 429
        assert over.headers["X-RateLimit-Reset"] == "60", "same second as the window's start"
        assert "Retry-After" not in over.headers
        assert "X-RateLimit-Remaining" not in over.headers
        clock.set(5059.1)
        assert _get(srv, "segments").headers["X-RateLimit-Reset"] == "1"
        clock.set(5060.0)
        last = _get(srv, "segments")
        assert (last.status_code, last.headers["X-RateLimit-Reset"]) == (429, "0")
        clock.set(5060.99)
        assert _get(srv, "segments").status_code == 429
        clock.set(5061.0)
        fresh = _get(srv, "segments")
        assert (fresh.status_code, fresh.headers["X-RateLimit-Remaining"]) == (200, "59")


def test_scaled_whole_second_window_for_multi_worker_tests() -> None:
    """API-SPEC 1.11c at a smaller scale: 30 per 3 s, same whole-second edge."""
    from segmentkit.testing.app import FixedWindowLimiter, ManualClock

    clock = ManualClock(100.5)
    limiter = FixedWindowLimiter(30, 3, clock, whole_seconds=True)
    results = [limiter.hit("k") for _ in range(31)]
    assert results[-2][:2] == (True, 0)
    assert results[-1][:2] == (False, -1)
    clock.set(103.2)
    assert limiter.hit("k")[0] is False
    assert limiter.hit("k")[2] == 0
    clock.set(104.0)
    assert limiter.hit("k")[:2] == (True, 29)
    assert limiter.window_end("k") == 108.0


def test_v201_unrouted_methods_count_against_the_limit(start: Any) -> None:
    """API-SPEC 1.11c: HEAD/OPTIONS/PUT/PATCH answer the 404 envelope after auth and count."""
    srv = start(profile="v2.0.1")
    for i, method in enumerate(("HEAD", "OPTIONS", "PUT", "PATCH")):
        r = requests.request(method, srv.base_url + "segments/1", headers=_auth(srv), timeout=5)
        assert r.status_code == 404
        assert r.headers["X-RateLimit-Remaining"] == str(59 - i)
    r = requests.request("OPTIONS", srv.base_url + "segments", timeout=5)
    assert r.status_code == 401, "authenticated first"


def test_v201_html_500_is_http10_and_closes(start: Any) -> None:
    """API-SPEC 1.11c: the HTML 500 comes as ``HTTP/1.0`` with ``Connection: close``."""
    srv = start(profile="v2.0.1")
    if srv.mode != "socket":
        pytest.skip("the status line exists only on a socket")
    r = requests.post(
        srv.base_url + "segments/999999", headers=_auth(srv), data={"name": "x"}, timeout=5
    )
    assert (r.status_code, r.raw.version) == (500, 10)
    assert "close" in r.headers["Connection"]
    assert len(r.content) == 841


def test_v201_contact_creates_answer_id_0(start: Any) -> None:
    """API-SPEC 1.11c: existing number → 201 id 0; invalid number → 201 id 0, phone null."""
    srv = start(profile="v2.0.1")
    srv.platform.add_contact(phone(1))
    dup = requests.post(
        srv.base_url + "contacts", headers=_auth(srv), data={"phone_number": phone(1)}, timeout=5
    )
    assert (dup.status_code, dup.json()["data"]["id"]) == (201, 0)
    bad = requests.post(
        srv.base_url + "contacts",
        headers=_auth(srv),
        data={"phone_number": "not-a-phone"},
        timeout=5,
    )
    assert bad.status_code == 201
    assert (bad.json()["data"]["id"], bad.json()["data"]["phone_number"]) == (0, None)
    assert len(srv.platform.contacts) == 1


def test_v201_bulk_segment_keeps_no_contact_ids(start: Any) -> None:
    """API-SPEC 1.11c: bulk through the API stores contacts_ids [] and creates no contacts."""
    srv = start(profile="v2.0.1")
    srv.platform.add_contact(phone(1), "Known")
    r = requests.post(
        srv.base_url + "segments",
        headers=_auth(srv),
        data={"name": "b", "type": "bulk", "phone_numbers": f"{phone(1)},{phone(2)}"},
        timeout=5,
    )
    assert r.json()["data"]["settings"] == {
        "phone_numbers": [phone(1), phone(2)],
        "contacts_ids": [],
    }
    assert r.json()["data"]["total_contacts"] == 0
    assert len(srv.platform.contacts) == 1


def test_case_sensitive_filters(start: Any) -> None:
    """API-SPEC 1.11c: ``city exact roma`` does not match ``Roma``; ``tier contains OL`` does
    not match ``gold`` (binary collation of JSON_UNQUOTE)."""
    srv = start(profile="v2.0.1")
    p = srv.platform
    p.add_contact(phone(1), "a", {"city": "Roma", "tier": "gold"})
    assert (
        p.segments[p.add_segment("r", "filter", filters=[("city", "exact", "roma")])].total_contacts
        == 0
    )
    assert (
        p.segments[p.add_segment("R", "filter", filters=[("city", "exact", "Roma")])].total_contacts
        == 1
    )
    assert (
        p.segments[
            p.add_segment("o", "filter", filters=[("tier", "contains", "OL")])
        ].total_contacts
        == 0
    )
    assert (
        p.segments[
            p.add_segment("l", "filter", filters=[("tier", "contains", "ol")])
        ].total_contacts
        == 1
    )


def test_language_prefix_redirects(start: Any) -> None:
    """API-SPEC 1.11c: ``/en/api/segments`` → 302 to ``/api/segments``."""
    srv = start(profile="v2.0.1")
    root = srv.base_url[: -len("api/")]
    r = requests.get(root + "en/api/segments", allow_redirects=False, timeout=5)
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/api/segments")


def test_adapter_enriches_v201_bulk_members_from_contacts(start: Any) -> None:
    """API-SPEC 1.11c: a v2.0.1 bulk segment links no contact ids; the adapter still reports
    each number that has a contact with its id and name (one contacts page for all of them),
    and the rest as bare phones."""
    srv = start(profile="v2.0.1")
    p = srv.platform
    known = p.add_contact(phone(1), "Mario", {"city": "Roma"})
    for i in range(10, 40):
        p.add_contact(phone(i), f"other {i}")
    sid = p.add_segment("b", "bulk", phone_numbers=[phone(1), phone(2)])
    assert p.segments[sid].settings["contacts_ids"] == []
    srv.log.clear()
    members = {r.phone: r for r in srv.client().recipients.list(str(sid))}
    assert set(members) == {phone(1), phone(2)}
    assert (members[phone(1)].id, members[phone(1)].name) == (str(known), "Mario")
    assert members[phone(1)].attributes == {"city": "Roma"}
    assert members[phone(2)].id is None
    assert srv.log.count("GET", r"^contacts") == 1


def test_adapter_reads_no_contacts_for_an_empty_bulk_segment(start: Any) -> None:
    """Fewest requests: a bulk segment without numbers needs no contacts read."""
    srv = start(profile="v2.0.1")
    sid = srv.platform.add_segment("b", "bulk", phone_numbers=[])
    srv.log.clear()
    assert list(srv.client().recipients.list(str(sid))) == []
    assert srv.log.count("GET", r"^contacts") == 0


def test_v201_bulk_create_without_numbers_is_html_500(start: Any) -> None:
    """API-SPEC 1.11c (observed): ``phone_number IN ( )`` fails → HTML 500, nothing stored;
    an empty custom segment is created fine."""
    srv = start(profile="v2.0.1")
    r = requests.post(
        srv.base_url + "segments",
        headers=_auth(srv),
        data={"name": "e", "type": "bulk", "phone_numbers": ""},
        timeout=5,
    )
    assert r.status_code == 500
    assert srv.platform.segments == {}
    r = requests.post(
        srv.base_url + "segments",
        headers=_auth(srv),
        data={"name": "e", "type": "custom", "contacts_ids": ""},
        timeout=5,
    )
    assert r.status_code == 201
