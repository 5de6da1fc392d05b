"""The contract suite against the in-memory reference adapter, in both transports."""

from segmentkit.testing.contract import ProviderContract


class TestMemoryContract(ProviderContract):
    provider = "memory"
