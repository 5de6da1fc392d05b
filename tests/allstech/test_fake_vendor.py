"""The allstech fake follows what the vendor's code implies (API-SPEC 2.7), over raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from segmentkit.testing import FakeServer
from segmentkit.testing.app import ManualClock
from segmentkit_allstech.fake import AllstechPlatform, html_clean


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.25)


@pytest.fixture
def srv(clock: ManualClock) -> Iterator[FakeServer]:
    with FakeServer(AllstechPlatform(rate_limit=60, clock=clock), mode="socket") as server:
        yield server


def _keys(srv: FakeServer, public: str | None = None, secret: str | None = None) -> dict[str, str]:
    acc = srv.platform.default  # type: ignore[attr-defined]
    headers = {"Accept": "application/json"}
    if public != "":
        headers["PublicKey"] = acc.public_key if public is None else public
    if secret != "":
        headers["SecretKey"] = acc.secret_key if secret is None else secret
    return headers


def _get(srv: FakeServer, path: str, **kw: Any) -> requests.Response:
    return requests.get(srv.base_url + path, timeout=5, **kw)


@pytest.mark.parametrize(
    ("public", "secret", "errors"),
    [
        (
            "0" * 32,
            "f" * 32,
            {
                "PublicKey": ["The selected public key is invalid."],
                "SecretKey": ["The selected secret key is invalid."],
            },
        ),
        (None, "f" * 32, {"SecretKey": ["The selected secret key is invalid."]}),
        (
            "0" * 32,
            "",
            {
                "PublicKey": ["The selected public key is invalid."],
                "SecretKey": ["The secret key field is required."],
            },
        ),
        (
            "",
            "",
            {
                "PublicKey": ["The public key field is required."],
                "SecretKey": ["The secret key field is required."],
            },
        ),
    ],
)
def test_wrong_keys_answer_the_field_dict(
    srv: FakeServer, public: str | None, secret: str | None, errors: dict[str, list[str]]
) -> None:
    """API-SPEC 2.7: HTTP 200, one entry per wrong ("selected … invalid") or missing key."""
    r = _get(srv, "segment/list", headers=_keys(srv, public, secret))
    assert r.status_code == 200
    assert r.json() == {"status": "failed", "errors": errors}


def test_inactive_account_names_only_the_public_key(srv: FakeServer) -> None:
    """API-SPEC 2.7: an inactive account → only the PublicKey entry."""
    srv.platform.default.active = False  # type: ignore[attr-defined]
    r = _get(srv, "segment/list", headers=_keys(srv))
    assert r.json() == {
        "status": "failed",
        "errors": {"PublicKey": ["The selected public key is invalid."]},
    }


def test_limit_per_ip_across_keys_with_headers_on_every_answer(
    srv: FakeServer, clock: ManualClock
) -> None:
    """API-SPEC 2.7: 60 a minute per client IP, shared by every key (failed auth counts);
    Limit/Remaining on every answer; the 429 carries Retry-After, an epoch Reset and
    Remaining 0 with {"message":"Too Many Attempts."}."""
    other = srv.platform.add_account()  # type: ignore[attr-defined]
    first = _get(srv, "segment/list", headers=_keys(srv))
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "60",
        "59",
    )
    bad = _get(srv, "segment/list", headers=_keys(srv, "0" * 32))
    assert bad.headers["X-RateLimit-Remaining"] == "58", "failed auth counts"
    mixed = _get(srv, "segment/list", headers=_keys(srv, other.public_key, other.secret_key))
    assert mixed.headers["X-RateLimit-Remaining"] == "57", "another key, same IP"
    for _ in range(57):
        _get(srv, "segment/list", headers=_keys(srv))
    clock.advance(10)
    over = _get(srv, "segment/list", headers=_keys(srv))
    assert over.status_code == 429
    assert over.json() == {"message": "Too Many Attempts."}
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert over.headers["Retry-After"] == "50"
    assert over.headers["X-RateLimit-Reset"] == str(int(clock()) + 50)
    clock.advance(50)
    assert _get(srv, "segment/list", headers=_keys(srv)).status_code == 200


def _store(srv: FakeServer, sid: int, **fields: str) -> requests.Response:
    data = {"segment_id": str(sid), "first_name": "A", "last_name": "B", "email": "a@x.io"}
    data.update(fields)
    return requests.post(
        srv.base_url + "segment/email/store", headers=_keys(srv), data=data, timeout=5
    )


@pytest.mark.parametrize("applied", [False, True])
def test_http_200_exception_message_leaves_the_store_unknown(
    srv: FakeServer, applied: bool
) -> None:
    """API-SPEC 2.7: an exception inside the controller answers HTTP 200 "failed" with its
    message; the write may have happened before it (unknown outcome)."""
    p = srv.platform
    sid = p.add_segment("S")  # type: ignore[attr-defined]
    p.inject_exception(applied=applied)  # type: ignore[attr-defined]
    r = _store(srv, sid)
    assert r.status_code == 200
    assert r.json()["status"] == "failed"
    assert r.json()["errors"].startswith("SQLSTATE[")
    assert p.member_identities(str(sid)) == (["a@x.io"] if applied else [])
    assert _store(srv, sid, email="b@x.io").json()["status"] == "success", "only once"


def test_names_come_back_html_escaped(srv: FakeServer) -> None:
    """API-SPEC 2.7 (likely): tags stripped, text escaped; a tag-only value is required."""
    p = srv.platform
    sid = p.add_segment("S")  # type: ignore[attr-defined]
    assert _store(srv, sid, first_name="Smith & Co", last_name="<b>Lee</b> <3").json() == {
        "status": "success",
        "message": "Added Successfully",
    }
    rows = _get(srv, f"segment/email/list?segment_id={sid}", headers=_keys(srv)).json()
    row = rows["message"]["contactEmails"][0]
    assert (row["first_name"], row["last_name"]) == ("Smith &amp; Co", "Lee &lt;3")
    only_tag = _store(srv, sid, first_name="<i></i>")
    assert only_tag.json()["errors"] == {"first_name": ["The first name field is required."]}


def test_html_clean_matches_htmlspecialchars() -> None:
    """ENT_QUOTES: both quotes escaped, the single one as &#039; (PHP's form)."""
    assert html_clean('O\'Neil "x" & <b>y</b>') == "O&#039;Neil &quot;x&quot; &amp; y"
