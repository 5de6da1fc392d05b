"""``Recipient.parse`` of a bare string skips pydantic (issue 14: the hot loop of a sync
plan). It must build exactly what the validated path builds, and refuse exactly what it
refuses, with the same error: compared here over the identity differential corpora (ordinary,
odd, internationalised, padded and invalid addresses and numbers, with and without a default
region), against the same value passed as a mapping, which always goes through pydantic.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from segmentkit import Recipient
from segmentkit.errors import InvalidRecipientError

from .test_identity_differential import _emails, _phones

EMAILS = 6_000
PHONES = 4_000


def _verdict(fn: Any) -> tuple[Any, ...]:
    try:
        r = fn()
    except InvalidRecipientError as exc:
        return ("error", type(exc).__name__, str(exc), exc.field)
    return ("ok", type(r), r.model_dump(), r.model_fields_set, r)


def _compare(text: str, region: str | None, stats: Counter[str]) -> list[Any]:
    key = "email" if "@" in text else "phone"
    got = _verdict(lambda: Recipient.parse(text, default_region=region))
    want = _verdict(lambda: Recipient.parse({key: text}, default_region=region))
    stats[got[0]] += 1
    if got[:4] != want[:4]:
        return [(text, region, got[:4], want[:4])]
    if got[0] == "ok" and not (got[4] == want[4] and repr(got[4]) == repr(want[4])):
        return [(text, region, repr(got[4]), repr(want[4]))]
    return []


def test_bare_string_parse_matches_the_validated_path() -> None:
    stats: Counter[str] = Counter()
    mismatches: list[Any] = []
    for text in _emails(EMAILS):
        mismatches += _compare(text, None, stats)
    for text, region in _phones(PHONES):
        mismatches += _compare(text, region, stats)
    assert not mismatches, f"{len(mismatches)} disagreements, first: {mismatches[:5]}"
    # Both verdicts must be exercised, or this proves nothing.
    assert stats["ok"] > (EMAILS + PHONES) * 0.2, stats
    assert stats["error"] > (EMAILS + PHONES) * 0.1, stats


def test_the_fast_result_behaves_like_a_model() -> None:
    r = Recipient.parse("Ann@Example.COM")
    assert r == Recipient(email="Ann@example.com")
    assert r.model_fields_set == {"email"}
    assert r.model_copy(update={"first_name": "Ann"}).first_name == "Ann"
    assert Recipient.model_validate(r.model_dump()) == r
    p = Recipient.parse("+39 333 123 4567")
    assert p.phone == "+393331234567"
    assert p.identity("sms") == "+393331234567"
