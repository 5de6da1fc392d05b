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

import importlib
import logging as _logging
from typing import IO as _IO
from typing import TYPE_CHECKING, Any

from ._version import CORE_API_VERSION, __version__

if TYPE_CHECKING:  # the real imports, for type checkers; at run time see __getattr__
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
    from .membership import Held, Interrupted, Progress
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
    "Held",
    "Interrupted",
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
    "Progress",
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

# PEP 562 lazy loading: ``import segmentkit`` loads nothing but the version; each public name
# imports its module on first access (then it is an ordinary module attribute). This keeps
# ``import segmentkit`` and the CLI's ``--help`` fast (issue 14). A name added to ``__all__``
# that lives in a submodule must be added here too (tests/core/test_imports.py checks it).
_LAZY: dict[str, str] = {
    "Client": "client",
    "Listing": "client",
    "RecipientsAPI": "client",
    "SegmentsAPI": "client",
    "connect": "client",
    "DSN": "config",
    "parse_dsn": "config",
    "APIError": "errors",
    "AuthenticationError": "errors",
    "ConfigurationError": "errors",
    "ConnectionFailedError": "errors",
    "CoordinationError": "errors",
    "InvalidRecipientError": "errors",
    "LockTimeoutError": "errors",
    "NotFoundError": "errors",
    "OutcomeUnknownError": "errors",
    "PermissionDeniedError": "errors",
    "PluginLoadError": "errors",
    "QuotaExceededError": "errors",
    "RateLimitError": "errors",
    "RequestTimeoutError": "errors",
    "SegmentkitError": "errors",
    "ServerError": "errors",
    "TransportError": "errors",
    "UnexpectedResponseError": "errors",
    "UnsupportedOperationError": "errors",
    "ValidationError": "errors",
    "Event": "events",
    "PageFetched": "events",
    "RateLimitWait": "events",
    "RequestSent": "events",
    "ResponseReceived": "events",
    "RetryScheduled": "events",
    "BulkResult": "models",
    "Capability": "models",
    "Channel": "models",
    "ItemOutcome": "models",
    "Match": "models",
    "Operator": "models",
    "OutcomeStatus": "models",
    "Page": "models",
    "Recipient": "models",
    "Rule": "models",
    "Segment": "models",
    "SegmentKind": "models",
    "SegmentQuery": "models",
    "PluginFailure": "plugins",
    "PluginWarning": "plugins",
    "ProviderInfo": "plugins",
    "Registry": "plugins",
    "create_registry": "plugins",
    "default_registry": "plugins",
    "Provider": "provider",
    "SyncPlan": "sync",
    "SyncResult": "sync",
    "Interrupted": "membership",
    "Progress": "membership",
    "Held": "membership",
    "copy_segment": "sync",
    "ClientOptions": "transport",
}


def available_providers(registry: Registry | None = None) -> list[ProviderInfo]:
    """Every loadable adapter: name, version, channel and capabilities."""
    from .plugins import default_registry

    return (registry or default_registry()).infos()


def plugin_errors(registry: Registry | None = None) -> list[PluginFailure]:
    """The adapter plugins that failed to load, and why."""
    from .plugins import default_registry

    return (registry or default_registry()).errors()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    # The public names (loaded or not) and the private ones; not the helpers imported here.
    return sorted({n for n in globals() if n.startswith("_")} | set(__all__))


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
