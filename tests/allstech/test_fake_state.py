"""The allstech fake's state and rules alone, without HTTP (moto's ``models.py`` tested by
itself): the key middleware, store validation, ownership, duplicates, injected exceptions and
soft delete, each as API-SPEC Part 2 (2.7 from the vendor's code) describes them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from segmentkit_allstech.fake._state import AllstechAccount, AllstechState, Answer, StoredSegment

STATE_FILE = Path(__file__).resolve().parents[2] / "segmentkit_allstech" / "fake" / "_state.py"


def _state(**options: bool) -> tuple[AllstechState, AllstechAccount, StoredSegment]:
    state = AllstechState(**options)
    account = state.new_account("pub-1", "sec-1")
    seg = state.new_segment(account.user_id, "News", [], [], [], None, 1, "2024-01-01T00:00:00Z")
    return state, account, seg


def _form(seg: StoredSegment, email: str = "ada@example.com", **fields: str) -> dict[str, str]:
    form = {"segment_id": str(seg.id), "first_name": "Ada", "last_name": "L", "email": email}
    return {**form, **fields}


def test_state_module_imports_no_http_library() -> None:
    tree = ast.parse(STATE_FILE.read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("werkzeug", "requests", "segmentkit")}


def test_key_middleware_names_each_missing_or_wrong_key() -> None:
    """API-SPEC 2.7: ``required`` then ``exists``, per header."""
    state, account, _ = _state()
    assert state.authenticate("pub-1", "sec-1") is account
    missing = state.authenticate("", "")
    assert isinstance(missing, Answer)
    assert missing.failure == "auth"
    assert missing.payload == {
        "PublicKey": ["The public key field is required."],
        "SecretKey": ["The secret key field is required."],
    }
    wrong_secret = state.authenticate("pub-1", "nope")
    assert isinstance(wrong_secret, Answer)
    assert wrong_secret.payload == {"SecretKey": ["The selected secret key is invalid."]}
    account.active = False
    inactive = state.authenticate("pub-1", "sec-1")
    assert isinstance(inactive, Answer)
    assert inactive.payload == {"PublicKey": ["The selected public key is invalid."]}


def test_store_validates_like_laravel_and_cleans_html() -> None:
    """API-SPEC 2.3 messages; 2.7 tags stripped then htmlspecialchars (a tag-only name is
    then empty, so required)."""
    state, account, seg = _state()
    bad = state.store_recipient(
        account, {"segment_id": "x", "first_name": "<b></b>", "email": "not-an-address"}
    )
    assert bad.failure == "validation"
    assert bad.payload == {
        "segment_id": ["The segment id must be an integer."],
        "first_name": ["The first name field is required."],
        "last_name": ["The last name field is required."],
        "email": ["The email must be a valid email address."],
    }
    ok = state.store_recipient(account, _form(seg, first_name="Smith & <i>Co</i>"))
    assert ok == Answer("Added Successfully")
    (row,) = state.recipient_list(account, str(seg.id)).payload["contactEmails"]
    assert row["first_name"] == "Smith &amp; Co"
    raw_state, raw_account, raw_seg = _state(clean_html=False)
    raw_state.store_recipient(raw_account, _form(raw_seg, first_name="A & B"))
    assert raw_state.recipients[1].first_name == "A & B"


def test_other_accounts_segments_do_not_exist() -> None:
    """Unknowns 10: ownership is checked and answered as "Record not found"."""
    state, _, seg = _state()
    other = state.new_account("pub-2", "sec-2")
    assert state.store_recipient(other, _form(seg)) == Answer("Record not found", "not_found")
    assert state.recipient_list(other, str(seg.id)).failure == "not_found"
    assert state.segment_list(other).payload == {"segments": []}


def test_duplicates_are_kept_unless_refused() -> None:
    state, account, seg = _state()
    for _ in range(2):
        assert state.store_recipient(account, _form(seg)).ok
    assert len(seg.emails) == 2
    strict, strict_account, strict_seg = _state(reject_duplicates=True)
    assert strict.store_recipient(strict_account, _form(strict_seg)).ok
    again = strict.store_recipient(strict_account, _form(strict_seg, email="ADA@example.com"))
    assert again == Answer({"email": ["The email has already been taken."]}, "validation")
    assert len(strict_seg.emails) == 1


@pytest.mark.parametrize("applied", [True, False])
def test_an_injected_exception_fails_the_store_after_or_instead_of_the_write(
    applied: bool,
) -> None:
    """API-SPEC 2.7: HTTP-200 "failed" with the exception message; applied or not, the
    answer is the same (so the caller cannot tell)."""
    state, account, seg = _state()
    state.queue_exception("segment/email/store", None, applied)
    answer = state.store_recipient(account, _form(seg))
    assert answer.failure == "exception"
    assert "SQLSTATE" in answer.payload
    assert len(seg.emails) == (1 if applied else 0)
    assert state.store_recipient(account, _form(seg, email="bob@example.com")).ok  # used up


def test_delete_recipient_and_soft_deleted_segments() -> None:
    """2.5.3: "Record Not Found" in title case for deletes; 2.5.1: the segment delete's
    success sits under "errors"; a soft-deleted segment vanishes from the list."""
    state, account, seg = _state()
    state.store_recipient(account, _form(seg))
    (rid,) = seg.emails
    assert state.delete_recipient(account, str(rid)) == Answer("Deleted Successfully")
    assert seg.emails == []
    assert state.delete_recipient(account, str(rid)) == Answer("Record Not Found", "not_found")
    deleted = state.delete_segment(account, str(seg.id))
    assert deleted == Answer("Deleted Successfully", key="errors")
    assert seg.deleted_at is not None
    assert state.segment_list(account).payload == {"segments": []}
    assert state.delete_segment(account, str(seg.id)).failure == "not_found"


def test_empty_segment_is_listed_empty_unless_the_guess_is_switched_on() -> None:
    state, account, seg = _state()
    assert state.recipient_list(account, str(seg.id)) == Answer({"contactEmails": []})
    guessed, guessed_account, guessed_seg = _state(empty_list_not_found=True)
    listed = guessed.recipient_list(guessed_account, str(guessed_seg.id))
    assert listed == Answer("Record not found", "not_found")


def test_segment_list_is_newest_first_with_member_counts() -> None:
    state, account, first = _state()
    second = state.new_segment(account.user_id, "B", ["14"], ["is after"], ["x"], None, 1, "t")
    state.insert_recipient(first, "a@example.com", "A", "B")
    rows = state.segment_list(account).payload["segments"]
    assert [(r["id"], r["segment_emails_count"]) for r in rows] == [(second.id, 0), (first.id, 1)]
