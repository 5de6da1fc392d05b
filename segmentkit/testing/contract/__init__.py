"""The adapter contract suite: the same test bodies for every adapter, ours and third parties'.

Subclass it in one line in your adapter's tests::

    from segmentkit.testing.contract import ProviderContract

    class TestAcmeContract(ProviderContract):
        provider = "acme"

or, to see results per topic (fsspec style), one fixture class and one line per topic::

    from segmentkit.testing import contract

    class AcmeFixtures(contract.ProviderFixtures):
        provider = "acme"

    class TestSegmentRead(AcmeFixtures, contract.SegmentReadContract): ...
    class TestSegmentWrite(AcmeFixtures, contract.SegmentWriteContract): ...
    class TestMembership(AcmeFixtures, contract.MembershipContract): ...
    class TestFaults(AcmeFixtures, contract.FaultContract): ...
    class TestSecrets(AcmeFixtures, contract.SecretContract): ...
    class TestCapabilities(AcmeFixtures, contract.CapabilityContract): ...

Topics: :mod:`~.segments` (read, write), :mod:`~.membership`, :mod:`~.faults`,
:mod:`~.secrets`, :mod:`~.capabilities`; the shared fixtures live in :mod:`~.fixtures`.

Every test runs against the adapter's fake in both transports (``socket`` and ``responses``)
and, for each entry of :attr:`ProviderFixtures.fake_options`, with those fake options. A setup
known to behave differently (66text v2.0.1 cannot update a segment) overrides the
``expectations`` fixture with an :class:`Expectations`; the checks then assert that promised
outcome instead, just as precisely. When ``SEGMENTKIT_LIVE_<PROVIDER>_DSN`` is set, the
read-only checks also run against the real platform (writes only with
``SEGMENTKIT_LIVE_WRITE=1``); otherwise they are skipped with a reason. The fake must
implement the standard seeding protocol of :class:`~segmentkit.testing.app.FakePlatform`
(``seed_segment``, ``member_identities``, ``segment_ids``, ``dsn_for``, ``bad_dsn``).

What it checks: a bad key raises ``AuthenticationError``; listing walks every page and returns
every seeded segment exactly once with the fewest requests; ``get`` of a missing id raises
``NotFoundError``; create/update/delete round-trip where the capabilities say so, else
``UnsupportedOperationError`` before any request; recipients add → list → remove round-trip
with one outcome per item; an invalid recipient is rejected before any request; every
``requests`` exception becomes a ``TransportError``; a malformed body becomes
``UnexpectedResponseError`` and an HTML 500 page a ``ServerError``; an injected 429 or 503 on
a read is retried and succeeds; an "applied then lost" write leaves exactly one copy; no
secret appears in logs, events, error strings, reprs or pickled errors; declared capabilities
equal the operations that work.
"""

from __future__ import annotations

from .capabilities import CapabilityContract
from .faults import FaultContract
from .fixtures import (
    Expectations,
    ProviderFixtures,
    all_requests_exceptions,
    fast_options,
    sample_recipients,
)
from .membership import MembershipContract
from .secrets import SecretContract
from .segments import SegmentReadContract, SegmentWriteContract

__all__ = [
    "CapabilityContract",
    "Expectations",
    "FaultContract",
    "MembershipContract",
    "ProviderContract",
    "ProviderFixtures",
    "SecretContract",
    "SegmentReadContract",
    "SegmentWriteContract",
    "all_requests_exceptions",
    "fast_options",
    "sample_recipients",
]


class ProviderContract(
    SegmentReadContract,
    SegmentWriteContract,
    MembershipContract,
    FaultContract,
    SecretContract,
    CapabilityContract,
):
    """Every contract topic in one class: subclass it in one line (set ``provider``;
    optionally ``fake_options``, :meth:`recipients` and the ``expectations`` fixture)."""
