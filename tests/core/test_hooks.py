"""The observability hook for real: a plugin implementing ``segmentkit_event`` receives typed,
redacted events from every client built on its registry."""

from __future__ import annotations

import types

import segmentkit
from segmentkit.events import PageFetched, RequestSent, ResponseReceived, RetryScheduled
from segmentkit.hookspecs import hookimpl
from segmentkit.testing import fake, memory


def make_observer() -> tuple[types.ModuleType, list[segmentkit.Event]]:
    seen: list[segmentkit.Event] = []
    plugin = types.ModuleType("observer_plugin")

    @hookimpl
    def segmentkit_event(event):
        seen.append(event)

    plugin.segmentkit_event = segmentkit_event  # type: ignore[attr-defined]
    return plugin, seen


def test_segmentkit_event_hook_receives_typed_redacted_events():
    plugin, seen = make_observer()
    registry = segmentkit.create_registry(entry_points=False, plugins=[memory, plugin])
    with fake("memory", "responses", registry=registry) as srv:
        sid = srv.platform.seed_segment("observed", [])
        srv.faults.add("503", 1.0, methods=("GET",), limit=1)
        client = srv.client()
        client.segments.get(sid)
        list(client.segments.list())
    kinds = [type(e) for e in seen]
    assert RequestSent in kinds
    assert ResponseReceived in kinds
    assert RetryScheduled in kinds, "the injected 503 was retried and announced"
    assert PageFetched in kinds
    sent = next(e for e in seen if isinstance(e, RequestSent))
    assert sent.provider == "memory"
    assert sent.headers["X-Api-Key"] == "***"
    assert srv.platform.api_key not in repr(seen)


def test_a_failing_observer_never_breaks_the_operation():
    plugin = types.ModuleType("broken_observer")

    @hookimpl
    def segmentkit_event(event):
        raise RuntimeError("observer bug")

    plugin.segmentkit_event = segmentkit_event  # type: ignore[attr-defined]
    registry = segmentkit.create_registry(entry_points=False, plugins=[memory, plugin])
    with fake("memory", "responses", registry=registry) as srv:
        sid = srv.platform.seed_segment("observed", [])
        assert srv.client().segments.get(sid).id == sid


def test_no_observer_means_no_events_are_built():
    registry = segmentkit.create_registry(entry_points=False, plugins=[memory])
    with fake("memory", "responses", registry=registry) as srv:
        client = srv.client()
        assert client.adapter.transport.listening is False
