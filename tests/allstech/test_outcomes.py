"""allstech outcomes the engine must get right: an HTTP-200 ``"status": "failed"`` answer
carrying an exception (API-SPEC 2.7) leaves a store's outcome unknown, and the engine paces
itself from the platform's rate-limit headers (API-SPEC 2.7: 60 a minute per client IP)."""

from __future__ import annotations

from collections import Counter

import pytest

from segmentkit import OutcomeStatus, Recipient
from segmentkit.errors import UnexpectedResponseError
from segmentkit.testing import FakeServer
from segmentkit_allstech.fake import AllstechPlatform

ADA = Recipient(email="ada@example.com", first_name="Ada", last_name="Lovelace")
BRUNO = Recipient(email="bruno@example.org", first_name="Bruno", last_name="Neri")


def platform(srv: FakeServer) -> AllstechPlatform:
    assert isinstance(srv.platform, AllstechPlatform)
    return srv.platform


@pytest.mark.parametrize("applied", [True, False])
def test_sqlstate_failure_on_store_is_reconciled_by_a_re_read(
    srv: FakeServer, applied: bool
) -> None:
    """API-SPEC 2.7: the vendor answers an exception as HTTP 200 ``{"status": "failed",
    "errors": "SQLSTATE…"}``, before or after the write. The engine re-reads the segment:
    exactly one copy is stored and every item has one outcome."""
    p = platform(srv)
    sid = p.seed_segment("sql")
    p.inject_exception("segment/email/store", applied=applied)
    client = srv.client()
    result = client.recipients.add(sid, [ADA, BRUNO])
    assert len(result) == 2
    assert [o.status for o in result] == [OutcomeStatus.added, OutcomeStatus.added]
    assert Counter(p.member_identities(sid)) == {"ada@example.com": 1, "bruno@example.org": 1}
    posts = srv.log.count("POST", r"segment/email/store")
    # Applied: the re-read finds it and nothing is re-sent; not applied: sent once more.
    assert posts == (2 if applied else 3)
    assert srv.log.count("GET", r"segment/email/list") >= 2  # the intake read + the re-read


def test_an_unnamed_http_200_failure_is_an_unknown_outcome(srv: FakeServer) -> None:
    """What no ErrorRules entry names is UnexpectedResponseError, the class the engine and
    ``Retry.after`` treat as "may have been applied" (API-SPEC 2.7)."""
    p = platform(srv)
    sid = p.seed_segment("raw")
    p.inject_exception("segment/email/store", applied=True)
    client = srv.client()
    with pytest.raises(UnexpectedResponseError) as info:
        client.request(
            "POST",
            "segment/email/store",
            files={
                "segment_id": (None, sid),
                "first_name": (None, "A"),
                "last_name": (None, "L"),
                "email": (None, "ada@example.com"),
            },
        )
    assert "SQLSTATE" in str(info.value)
    assert p.member_identities(sid) == ["ada@example.com"]


def test_names_cleaned_by_the_platform_are_shown_unescaped(srv: FakeServer) -> None:
    """API-SPEC 2.7: input is HTML-cleaned (``Smith & Co`` stored as ``Smith &amp; Co``);
    names are shown as typed, ``raw`` keeps the stored text."""
    p = platform(srv)
    sid = p.seed_segment("Q&amp;A team")  # as the web UI stores "Q&A team"
    client = srv.client()
    client.recipients.add(
        sid, [Recipient(email="o@example.com", first_name="O'Neil", last_name="Smith & Co")]
    )
    [member] = client.recipients.list(sid)
    assert (member.first_name, member.last_name) == ("O'Neil", "Smith & Co")
    assert member.raw["last_name"] == "Smith &amp; Co"
    segment = client.segments.get(sid)
    assert segment.name == "Q&A team"


@pytest.mark.timeout(60)
def test_the_engine_paces_from_the_platform_headers_without_a_429() -> None:
    """API-SPEC 2.7: 60 requests per window per client IP, advertised in X-RateLimit-*
    headers; a scaled 1 s window. 130 adds plus reads cross it three times: no 429."""
    p = AllstechPlatform(rate_limit=60, rate_window=1.0)
    with FakeServer(p, mode="socket") as srv:
        sid = p.seed_segment("paced")
        people = [
            Recipient(email=f"u{i:03d}@example.com", first_name="U", last_name=str(i))
            for i in range(130)
        ]
        client = srv.client(rate_limit_window=1.0, max_retry_wait=10.0)
        result = client.recipients.add(sid, people)
        assert [o.status for o in result] == [OutcomeStatus.added] * 130
        assert [r for r in srv.log if r.status == 429] == []
        assert len(set(p.member_identities(sid))) == 130
        assert len(srv.log) > 120  # the limit really was crossed
