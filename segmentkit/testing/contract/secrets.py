"""Contract topic: a bad key is an ``AuthenticationError``; no secret ever shows."""

from __future__ import annotations

import copy
import logging
import pickle
from typing import Any

import pytest

from segmentkit import AuthenticationError, connect
from segmentkit.errors import SegmentkitError

from ..server import FakeServer
from .fixtures import ProviderFixtures, fast_options, secret_values

__all__ = ["SecretContract"]


class SecretContract(ProviderFixtures):
    """A bad key raises ``AuthenticationError`` naming the provider; no secret appears in
    logs, events, error strings, reprs, the request log, or pickled errors."""

    def test_bad_key_raises_authentication_error(self, server: FakeServer) -> None:
        with (
            connect(server.platform.bad_dsn(server.base_url), **fast_options()) as bad,
            pytest.raises(AuthenticationError) as info,
        ):
            list(bad.segments.list())
        assert info.value.provider == self.provider

    def test_no_secret_in_logs_events_errors_or_reprs(
        self, server: FakeServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        events: list[Any] = []
        secrets = secret_values(server)
        assert secrets, "the fake's DSN carries credentials"
        caplog.set_level(logging.DEBUG, logger="segmentkit")
        server.faults.add("503", 1.0, methods=("GET",), limit=1)
        texts: list[str] = []
        raised: list[SegmentkitError] = []
        with connect(server.dsn(), on_event=events.append, **fast_options()) as c:
            sid = server.platform.seed_segment("contract secrets", [])
            c.segments.get(sid)
            texts += [repr(c), repr(c.adapter), str(c.adapter.credentials)]
            try:
                c.segments.get("987654321")
            except SegmentkitError as exc:
                raised.append(exc)
        with connect(server.platform.bad_dsn(server.base_url), **fast_options()) as bad:
            try:
                bad.segments.get("1")
            except SegmentkitError as exc:
                raised.append(exc)
            texts.append(repr(bad))
        for error in raised:
            # Our own bytes, just produced: the round trip job queues and multiprocessing do.
            copies = (pickle.loads(pickle.dumps(error)), copy.deepcopy(error))  # noqa: S301
            for err in (error, *copies):
                texts += [str(err), repr(err), str(getattr(err, "raw_body", ""))]
                texts.append(repr(vars(err)))
        texts += [r.getMessage() for r in caplog.records]
        texts += [repr(e) for e in events]
        texts.append(server.log.text())
        blob = "\n".join(texts)
        assert events, "events were emitted"
        assert len(raised) == 2, "both failures were raised"
        for secret in secrets:
            assert secret not in blob
