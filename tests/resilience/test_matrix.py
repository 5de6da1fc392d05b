"""The resilience matrix: every fault kind, injected into 20% of requests, against every
adapter's fake. For each (provider, fault) cell:

* reads (every segment, one segment, a segment's members) return exactly the seeded data;
* a bulk add of 1,000 recipients gives one outcome per item, ``failed`` ones carry their
  cause, and re-running the same call completes them with every recipient present once;
* ``recipients.sync`` converges within two runs;
* no secret appears in any log record, event, error string or repr seen during the cell.

Clients use tiny backoff and ``max_retries=6``; the fake runs in ``responses`` mode (the same
WSGI app and fault injector as on a socket; connection faults become the matching
``requests`` exceptions), so the module stays fast.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from segmentkit import Recipient, SegmentkitError, create_registry
from segmentkit.models import OutcomeStatus
from segmentkit.testing import FakeServer, fake
from segmentkit.testing.faults import FAULT_KINDS

from . import matrix_table

ADAPTERS = {
    "memory": "segmentkit.testing.memory",
    "notificator": "segmentkit_notificator.provider",
    "allstech": "segmentkit_allstech.provider",
}
FAULTS = sorted(FAULT_KINDS - {"latency"})
RATE = 0.2
BULK = 1_000
FAKE_OPTIONS: dict[str, dict[str, Any]] = {
    "memory": {},
    # Bulk segments take phone numbers in one write; custom ones need a contact per phone
    # (two requests each), which would make this module slow without testing more.
    "notificator": {"rate_limit": 10**9, "seed_type": "bulk"},
    "allstech": {},
}
CLIENT_OPTIONS = {
    "backoff_base": 0.001,
    "backoff_max": 0.01,
    "max_retries": 6,
    "read_timeout": 0.3,
    # In responses mode a stall is a ReadTimeout raised at once, so the read timeout only set
    # the answer deadline (3 x 0.3 s), which a loaded machine (pytest -n) overran on answers
    # that were merely slow to build; an overrun is final (never retried), so the cell failed.
    "response_deadline": 60.0,
}


def person(provider: str, i: int) -> dict[str, str]:
    """The ``i``-th recipient, with what ``provider`` needs."""
    if provider == "notificator":
        return {"phone": f"+39331{i:07d}"}
    return {"email": f"person{i:05d}@example.com", "first_name": f"First{i}", "last_name": "Last"}


def identity(provider: str, p: dict[str, str]) -> str:
    return p["phone"] if provider == "notificator" else p["email"].lower()


def fault_options(kind: str) -> dict[str, Any]:
    if kind == "429":
        return {"retry_after": 0.01}
    if kind == "stall":
        return {"seconds": 0.6}
    return {}


@pytest.fixture(params=list(ADAPTERS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(provider: str) -> Iterator[FakeServer]:
    try:
        module = importlib.import_module(ADAPTERS[provider])
    except ImportError as exc:  # an adapter not written yet
        pytest.fail(f"{provider} adapter not importable: {exc}")
    registry = create_registry(entry_points=False, plugins=[module], env={})
    with fake(provider, "responses", registry=registry, **FAKE_OPTIONS[provider]) as srv:
        yield srv


class Cell:
    """Runs one operation at a time and records requests/retries/outcome for the table."""

    def __init__(self, provider: str, fault: str, client: Any) -> None:
        self.provider, self.fault, self.client = provider, fault, client
        self.errors: list[BaseException] = []
        self.texts: list[str] = []

    def run(self, operation: str, fn: Any) -> Any:
        stats = self.client.stats
        before = (stats.requests, stats.retries)
        outcome = "ok"
        try:
            result = fn()
        except SegmentkitError as exc:
            self.errors.append(exc)
            outcome = f"raised {type(exc).__name__}"
            raise
        finally:
            if outcome == "ok" and "result" in locals() and hasattr(result, "summary"):
                outcome = result.summary()
            matrix_table.record(
                self.provider,
                self.fault,
                operation,
                stats.requests - before[0],
                stats.retries - before[1],
                outcome,
            )
        return result


@pytest.mark.parametrize("fault", FAULTS)
def test_matrix_cell_reads_writes_sync_and_secrets(
    provider: str, fault: str, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="segmentkit")
    platform = server.platform
    seeded_members = [Recipient.parse(person(provider, 10_000 + i)) for i in range(40)]
    member_sid = platform.seed_segment("members", seeded_members)
    for i in range(5):
        platform.seed_segment(f"other {i}")
    events: list[Any] = []
    client = server.client(on_event=events.append, **CLIENT_OPTIONS)
    secrets = type(client.adapter).secret_values(client.adapter.credentials)
    assert secrets
    assert all(secrets)
    want_segments = set(platform.segment_ids())
    want_members = sorted(platform.member_identities(member_sid))
    server.faults.add(fault, RATE, **fault_options(fault))
    cell = Cell(provider, fault, client)

    # -- reads return exactly the seeded data
    segments = cell.run("list segments", lambda: client.segments.list().to_list())
    assert sorted(s.id for s in segments) == sorted(want_segments)
    one = cell.run("get segment", lambda: client.segments.get(member_sid))
    assert one.id == member_sid
    members = cell.run("list recipients", lambda: client.recipients.list(member_sid).to_list())
    assert sorted(m.identity(client.channel) or "" for m in members) == want_members

    # -- bulk add: one outcome per item, failures carry a cause, a re-run completes them
    people = [person(provider, i) for i in range(BULK)]
    bulk_sid = platform.seed_segment("bulk")
    result = cell.run("add 1000", lambda: client.recipients.add(bulk_sid, people))
    assert len(result) == BULK
    for item in result:
        assert item.status in (OutcomeStatus.added, OutcomeStatus.unchanged, OutcomeStatus.failed)
        if item.status is OutcomeStatus.failed:
            assert item.reason, item
        cell.texts += [repr(item), str(item.reason)]
    for attempt in range(3):
        if result.ok:
            break
        result = cell.run(
            f"add 1000 re-run {attempt + 1}", lambda: client.recipients.add(bulk_sid, people)
        )
        cell.texts += [repr(o) for o in result.failed]
    assert result.ok, result.summary()
    got = sorted(platform.member_identities(bulk_sid))
    assert got == sorted(identity(provider, p) for p in people), "missing or duplicated members"

    # -- sync converges within two runs
    desired = [person(provider, 10_000 + i) for i in range(20, 70)]  # half overlap
    for run in (1, 2):
        sync = cell.run(f"sync run {run}", lambda: client.recipients.sync(member_sid, desired))
        cell.texts += [repr(o) for o in sync.outcomes if o.status is OutcomeStatus.failed]
        if sorted(platform.member_identities(member_sid)) == sorted(
            identity(provider, p) for p in desired
        ):
            break
    assert sorted(platform.member_identities(member_sid)) == sorted(
        identity(provider, p) for p in desired
    )

    # -- no secret anywhere
    seen = [r.getMessage() for r in caplog.records]
    seen += [repr(r.__dict__) for r in caplog.records]
    seen += [repr(e) for e in events]
    seen += [str(e) for e in cell.errors] + [repr(e) for e in cell.errors]
    seen += [*cell.texts, repr(client), repr(client.adapter), str(client.stats)]
    for secret in secrets:
        leaks = [s for s in seen if secret in s]
        assert not leaks, f"secret leaked in {len(leaks)} place(s), e.g. {leaks[0][:300]!r}"
