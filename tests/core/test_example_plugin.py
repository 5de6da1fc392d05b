"""A third-party adapter, for real: ``examples/segmentkit_example`` is its own distribution,
pip-installed by ``make test``, found through its entry point like any plugin."""

from __future__ import annotations

import pytest

import segmentkit
from segmentkit.testing import fake


@pytest.fixture
def registry() -> segmentkit.Registry:
    return segmentkit.create_registry(env={"SEGMENTKIT_PLUGINS": "example,memory"})


def test_example_plugin_is_discovered_by_name_from_its_distribution(registry):
    info = {p.name: p for p in segmentkit.available_providers(registry)}["example"]
    assert info.distribution == "segmentkit-example"
    assert info.version == "0.1.0"
    assert info.channel == "sms"
    assert segmentkit.Capability.add_recipients in info.capabilities
    assert segmentkit.Capability.create_segment not in info.capabilities
    assert registry.errors() == []


@pytest.mark.parametrize("mode", ["socket", "responses"])
def test_example_fake_serves_its_platform_in_both_modes(registry, mode):
    with fake("example", mode, registry=registry) as srv:
        lid = srv.platform.seed_segment(
            "Beacons", [segmentkit.Recipient(phone="+393331234567", name="Ada")]
        )
        client = srv.client()
        assert [s.name for s in client.segments.list()] == ["Beacons"]
        members = list(client.recipients.list(lid))
        assert [m.phone for m in members] == ["+393331234567"]


def test_example_adapter_applied_then_lost_add_is_looked_up_not_resent(registry):
    """The platform stores a re-sent POST twice; the adapter's reconcile must prevent it."""
    with fake("example", "socket", registry=registry) as srv:
        lid = srv.platform.seed_segment("Beacons", [])
        srv.faults.add("applied_then_lost", 1.0, methods=("POST",), limit=1)
        result = srv.client().recipients.add(lid, ["+393331234567"])
        assert result.counts["added"] == 1
        assert srv.platform.member_identities(lid) == ["+393331234567"]
        assert srv.log.count("POST") == 1
