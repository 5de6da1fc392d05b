"""Bad input, fuzzed (bounded): random recipient inputs never raise from
``client.recipients.add``; every item gets an outcome, and every rejection says why.

Not done yet (issue 8): fuzzed response bodies fed to the adapters' parsers through
``responses`` callbacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentkit import create_registry
from segmentkit.models import OutcomeStatus
from segmentkit.testing import FakeServer, fake

ADAPTERS = {
    "memory": "segmentkit.testing.memory",
    "notificator": "segmentkit_notificator.provider",
    "allstech": "segmentkit_allstech.provider",
}

text = st.text(max_size=40)
phones = st.one_of(text, st.from_regex(r"\+?[0-9 ()-]{0,20}", fullmatch=True))
emails = st.one_of(text, st.emails(), st.from_regex(r"[a-z.]{0,10}@[a-z]{0,8}\.?[a-z]{0,3}"))
values = st.one_of(st.none(), text, st.integers(), st.floats(allow_nan=True), st.booleans())
csv_row = st.dictionaries(
    st.sampled_from(["email", "phone", "first_name", "last_name", "name", "country", "id", "x"]),
    st.one_of(values, phones, emails),
    max_size=6,
)
item = st.one_of(csv_row, phones, emails, st.integers(), st.none(), st.lists(text, max_size=2))


@pytest.fixture(scope="module", params=list(ADAPTERS))
def server(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    name = str(request.param)
    try:
        module = importlib.import_module(ADAPTERS[name])
    except ImportError as exc:
        pytest.fail(f"{name} adapter not importable: {exc}")
    registry = create_registry(entry_points=False, plugins=[module], env={})
    options: dict[str, Any] = {"rate_limit": 10**9} if name == "notificator" else {}
    with fake(name, "responses", registry=registry, **options) as srv:
        yield srv


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=st.lists(item, max_size=8))
def test_recipients_add_rejects_bad_items_per_item_with_a_reason(
    server: FakeServer, items: list[Any]
) -> None:
    client = server.client(max_retries=0)
    sid = server.platform.seed_segment("fuzz")
    result = client.recipients.add(sid, items)
    assert len(result) == len(items)
    for i, outcome in enumerate(result):
        assert outcome.index == i
        if outcome.status in (OutcomeStatus.rejected, OutcomeStatus.failed):
            assert outcome.reason, outcome
