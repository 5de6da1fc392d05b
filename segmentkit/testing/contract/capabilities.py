"""Contract topic: the declared capabilities are exactly the operations that work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from segmentkit import Capability, Client, UnsupportedOperationError

from ..server import FakeServer
from .fixtures import Expectations, ProviderFixtures

__all__ = ["CapabilityContract"]


class CapabilityContract(ProviderFixtures):
    """Every declared capability works (or fails exactly as :class:`Expectations` says);
    every undeclared one raises ``UnsupportedOperationError`` before any request."""

    def test_declared_capabilities_match_working_operations(
        self, server: FakeServer, client: Client, expectations: Expectations
    ) -> None:
        sid = server.platform.seed_segment("contract caps", self.recipients(client.channel)[:1])
        assert Capability.list_segments in client.capabilities
        assert Capability.get_segment in client.capabilities
        probes: dict[Capability, Callable[[], object]] = {
            Capability.list_recipients: lambda: list(client.recipients.list(sid)),
            Capability.add_recipients: lambda: client.recipients.add(
                sid, self.recipients(client.channel)[1:2]
            ),
            Capability.remove_recipients: lambda: client.recipients.remove(
                sid, self.recipients(client.channel)[1:2]
            ),
        }
        for cap, probe in probes.items():
            if cap in client.capabilities:
                probe()  # must work
            else:
                before = len(server.log)
                with pytest.raises(UnsupportedOperationError):
                    probe()
                assert len(server.log) == before
