"""The whole segmentkit contract suite, for this adapter, in one line."""

from segmentkit.testing.contract import ProviderContract


class TestExampleContract(ProviderContract):
    provider = "example"
