"""segmentkit: one API over audience segments on messaging platforms.

Quick start::

    import segmentkit

    with segmentkit.connect("notificator://API_KEY@notificatorsms.com") as sms:
        for seg in sms.segments.list(search="vip"):
            print(seg.id, seg.name, seg.recipient_count)
        result = sms.recipients.add(seg.id, ["+393331234567"])
        print(result.summary())

Adapters are plugins (entry-point group ``segmentkit``); see ``ADDING_PROVIDERS.md``.

Logging: the ``segmentkit`` logger has a ``NullHandler``, so nothing is printed unless you
configure logging or call :func:`enable_logging` (``segmentkit.enable_logging("DEBUG")``).
"""

from __future__ import annotations

import logging as _logging
from typing import IO as _IO

from ._version import CORE_API_VERSION, __version__
from .client import Client, Listing, RecipientsAPI, SegmentsAPI, connect
from .config import DSN, parse_dsn
from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    CoordinationError,
    InvalidRecipientError,
    LockTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PluginLoadError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    SegmentkitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    ValidationError,
)
from .events import (
    Event,
    PageFetched,
    RateLimitWait,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from .models import (
    BulkResult,
    Capability,
    Channel,
    ItemOutcome,
    Match,
    Operator,
    OutcomeStatus,
    Page,
    Recipient,
    Rule,
    Segment,
    SegmentKind,
    SegmentQuery,
)
from .plugins import (
    PluginFailure,
    PluginWarning,
    ProviderInfo,
    Registry,
    create_registry,
    default_registry,
)
from .provider import Provider
from .sync import SyncPlan, SyncResult, copy_segment
from .transport import ClientOptions

__all__ = [
    "CORE_API_VERSION",
    "DSN",
    "APIError",
    "AuthenticationError",
    "BulkResult",
    "Capability",
    "Channel",
    "Client",
    "ClientOptions",
    "ConfigurationError",
    "ConnectionFailedError",
    "CoordinationError",
    "Event",
    "InvalidRecipientError",
    "ItemOutcome",
    "Listing",
    "LockTimeoutError",
    "Match",
    "NotFoundError",
    "Operator",
    "OutcomeStatus",
    "OutcomeUnknownError",
    "Page",
    "PageFetched",
    "PermissionDeniedError",
    "PluginFailure",
    "PluginLoadError",
    "PluginWarning",
    "Provider",
    "ProviderInfo",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimitWait",
    "Recipient",
    "RecipientsAPI",
    "Registry",
    "RequestSent",
    "RequestTimeoutError",
    "ResponseReceived",
    "RetryScheduled",
    "Rule",
    "Segment",
    "SegmentKind",
    "SegmentQuery",
    "SegmentkitError",
    "SegmentsAPI",
    "ServerError",
    "SyncPlan",
    "SyncResult",
    "TransportError",
    "UnexpectedResponseError",
    "UnsupportedOperationError",
    "ValidationError",
    "__version__",
    "available_providers",
    "connect",
    "copy_segment",
    "create_registry",
    "default_registry",
    "enable_logging",
    "parse_dsn",
    "plugin_errors",
]


def available_providers(registry: Registry | None = None) -> list[ProviderInfo]:
    """Every loadable adapter: name, version, channel and capabilities."""
    return (registry or default_registry()).infos()


def plugin_errors(registry: Registry | None = None) -> list[PluginFailure]:
    """The adapter plugins that failed to load, and why."""
    return (registry or default_registry()).errors()


_logging.getLogger("segmentkit").addHandler(_logging.NullHandler())


def enable_logging(level: int | str = "INFO", stream: _IO[str] | None = None) -> _logging.Handler:
    """Print segmentkit's log (requests, retries, rate-limit waits; secrets masked) to
    ``stream`` (default: stderr) at ``level`` (``"DEBUG"`` shows every request).

    Returns the handler, so ``logging.getLogger("segmentkit").removeHandler(h)`` undoes it.
    Applications that configure :mod:`logging` themselves do not need this.
    """
    from .redact import SecretLogFilter

    logger = _logging.getLogger("segmentkit")
    handler = _logging.StreamHandler(stream)
    handler.addFilter(SecretLogFilter())
    handler.setFormatter(_logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
