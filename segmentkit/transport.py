"""Old import path of the HTTP layer, kept for one release: everything lives in
:mod:`segmentkit.http` now (``Transport`` sends one attempt; ``Session`` is the pipeline)."""

from __future__ import annotations

from .http.retry import Pacer, RetryPolicy, parse_retry_after
from .http.transport import ClientOptions, Stats, Transport

__all__ = [
    "ClientOptions",
    "Pacer",
    "RetryPolicy",
    "Stats",
    "Transport",
    "parse_retry_after",
]
