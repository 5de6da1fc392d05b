"""The adapter contract suite against the allstech fake, in both transports and with both the
documented-guess HTTP 200 failures and real 4xx codes (API-SPEC 2.2, Unknowns 2)."""

from segmentkit.testing.contract import ProviderContract


class TestAllstechContract(ProviderContract):
    provider = "allstech"
    fake_options = [{}, {"failure_status": "4xx"}]
