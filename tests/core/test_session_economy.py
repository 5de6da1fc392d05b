"""Request economy of writes through the session (issue 14): a 66text create costs one
request on the happy path, and an applied create whose answer was lost is still found."""

from __future__ import annotations

import pytest

from segmentkit.testing import fake


@pytest.mark.timeout(60)
def test_notificator_create_costs_one_request_once_the_newest_id_is_known() -> None:
    with fake("notificator", "responses") as srv:
        for i in range(30):
            srv.platform.seed_segment(f"existing {i}", [])
        c = srv.client()
        c.segments.create("first", recipients=[])
        before = len(srv.log)
        for i in range(3):
            c.segments.create(f"more {i}", recipients=[])
        assert len(srv.log) - before == 3, "one POST per create, no listing"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["applied_then_lost", "truncated", "html500"])
def test_notificator_create_with_unknown_outcome_is_reconciled_not_duplicated(kind: str) -> None:
    with fake("notificator", "responses") as srv:
        srv.platform.seed_segment("twin", [])  # an older segment with the same name
        c = srv.client()
        srv.faults.add(kind, 1.0, methods=("POST",), path=r"segments$", limit=1)
        made = c.segments.create("twin", recipients=[])
        named = [s for s in c.segments.list() if s.name == "twin"]
        if kind == "html500":  # nothing applied: sent again, once
            assert len(named) == 2
        else:  # applied, answer lost: found, not re-sent
            assert len(named) == 2
            assert srv.log.count("POST") == 1
        assert made.id == max(named, key=lambda s: int(s.id)).id
