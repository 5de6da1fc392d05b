"""Every exception segmentkit raises, in one tree.

::

    SegmentkitError                    base of everything below
    ├── ConfigurationError             unknown provider, bad DSN, missing credentials, bad option
    │   └── PluginLoadError            strict mode: an adapter plugin failed to load
    ├── UnsupportedOperationError      the platform's API cannot express the operation
    ├── InvalidRecipientError          a recipient failed validation before any request
    ├── CoordinationError              the lock or shared budget backend failed (e.g. Redis lost)
    │   └── LockTimeoutError           a segment lock could not be taken in time
    ├── TransportError                 the HTTP exchange itself failed (no usable response)
    │   ├── RequestTimeoutError        connect or read timeout
    │   ├── ConnectionFailedError      DNS, refused, reset, TLS, proxy, broken body
    │   └── OutcomeUnknownError        a write may or may not have been applied
    └── APIError                       the platform answered, and the answer is a failure
        ├── AuthenticationError        401 / bad or missing key
        ├── PermissionDeniedError      403
        ├── NotFoundError              404 / "Record not found"
        ├── ValidationError            400, 409, 422: the platform rejected the input
        ├── QuotaExceededError         402 / plan limits reached
        ├── RateLimitError             429 (carries ``retry_after``)
        ├── ServerError                5xx
        └── UnexpectedResponseError    bad JSON, wrong shape, HTML error page

``str(error)`` shows the provider, the HTTP status and the platform's message. Errors never hold
credentials: bodies and URLs are redacted before they are stored (see :mod:`segmentkit.redact`).

The status → class table is :data:`STATUS_ERRORS`; :func:`error_class_for_status` applies it to
any integer. Foreign exceptions from ``requests`` are translated in exactly one place,
:func:`translate_requests_error`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

from .redact import mask

__all__ = [
    "STATUS_ERRORS",
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailedError",
    "CoordinationError",
    "InvalidRecipientError",
    "LockTimeoutError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PluginLoadError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "SegmentkitError",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "UnsupportedOperationError",
    "ValidationError",
    "error_class_for_status",
    "translate_requests_error",
]


class SegmentkitError(Exception):
    """Base class of every error segmentkit raises; catch this to catch them all.

    Every subclass pickles and deep-copies with its fields (job queues and
    ``multiprocessing`` move errors between processes), whatever its ``__init__`` takes: the
    copy is rebuilt from the arguments and attributes, with every known secret masked, without
    calling ``__init__`` again.
    """

    def __init__(self, *args: Any) -> None:
        # Messages are built from configuration and answers: keep no known secret in them.
        super().__init__(*(mask(a) if isinstance(a, str) else a for a in args))

    def __reduce__(self) -> Any:
        return (_rebuild_error, (type(self), _masked(self.args), _masked(dict(vars(self)))))


def _masked(value: Any) -> Any:
    """``value`` with known secrets masked in every string it holds (containers walked)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, tuple):
        return tuple(_masked(v) for v in value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def _rebuild_error(cls: type[SegmentkitError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ConfigurationError(SegmentkitError):
    """Raised before any request when the client cannot be set up.

    Unknown provider, malformed DSN, missing or misspelt credentials, a plain-HTTP URL to a
    non-loopback host. The message says how to fix it, naming the environment variable.
    """


class PluginLoadError(ConfigurationError):
    """Raised in strict mode when an adapter plugin cannot be loaded (import error, bad hook,
    incompatible API version, or a name already taken by another plugin)."""


class UnsupportedOperationError(SegmentkitError):
    """Raised before any request when the provider's API cannot express an operation.

    The message names the provider, the operation and what to do instead.
    """

    def __init__(self, provider: str, operation: str, hint: str = "") -> None:
        self.provider = provider
        self.operation = operation
        self.hint = hint
        msg = f"{provider}: {operation} is not supported by this platform's API"
        super().__init__(f"{msg}. {hint}" if hint else msg)


class InvalidRecipientError(SegmentkitError, ValueError):
    """Raised when a recipient fails validation (bad phone, bad email, no identity).

    ``field`` and ``value`` name what was wrong; ``reason`` says why in words.
    """

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        super().__init__(reason)


class CoordinationError(SegmentkitError):
    """Raised when the coordination backend (segment locks, shared rate budget) fails.

    For example Redis became unreachable mid-run: the operation stops rather than going on
    unlocked. See :mod:`segmentkit.coordination`.
    """


class LockTimeoutError(CoordinationError):
    """Raised when a segment lock could not be taken within its timeout.

    ``scope`` is the lock's one-way-hashed name (never a credential); ``timeout`` the wait.
    """

    def __init__(self, message: str, *, scope: str = "", timeout: float = 0.0) -> None:
        self.scope = scope
        self.timeout = timeout
        super().__init__(message)


class TransportError(SegmentkitError):
    """Raised when no usable HTTP response arrived (after any retries)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        method: str = "",
        url: str = "",
        request_sent: bool = True,
    ) -> None:
        self.provider = provider
        self.method = method
        self.url = url
        #: False only when the request provably never reached the server (safe to re-send).
        self.request_sent = request_sent
        prefix = f"{provider}: " if provider else ""
        where = f" ({method} {url})" if method else ""
        super().__init__(mask(f"{prefix}{message}{where}"))


class RequestTimeoutError(TransportError):
    """Raised when connecting or reading took longer than the configured timeout."""


class ConnectionFailedError(TransportError):
    """Raised when the connection could not be made or broke (DNS, refused, reset, TLS)."""


class OutcomeUnknownError(TransportError):
    """Raised when a write was sent but no answer came back, so it may have been applied.

    The adapter's reconcile step normally resolves this by looking the object up; callers see
    it only when the lookup itself fails or no reconcile step exists.
    """


class APIError(SegmentkitError):
    """The platform answered with a failure.

    Attributes: ``provider``, ``status_code`` (HTTP status, or ``None`` for failures inside
    HTTP 200), ``messages`` (the platform's messages), ``field_errors`` (field → messages),
    ``raw_body`` (redacted, truncated body text), ``retry_after`` (seconds, when told).
    """

    def __init__(
        self,
        message: str = "",
        *,
        provider: str | None = None,
        status_code: int | None = None,
        messages: Sequence[str] = (),
        field_errors: Mapping[str, Sequence[str]] | None = None,
        raw_body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        # Platforms sometimes echo what they were sent; keep no known secret on the error.
        self.messages: list[str] = [mask(m) for m in messages] or (
            [mask(message)] if message else []
        )
        self.field_errors: dict[str, list[str]] = {
            mask(str(k)): [mask(str(x)) for x in v] for k, v in (field_errors or {}).items()
        }
        self.raw_body = mask(raw_body) if raw_body else raw_body
        self.retry_after = retry_after
        self._message = mask(message)
        super().__init__(self._message)

    def __str__(self) -> str:
        parts = []
        if self.provider:
            parts.append(f"{self.provider}:")
        if self.status_code is not None:
            parts.append(str(self.status_code))
        text = self._message or "; ".join(self.messages)
        if self.field_errors:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in self.field_errors.items())
            text = f"{text} ({detail})" if text else detail
        parts.append(text or type(self).__name__)
        return mask(" ".join(parts))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthenticationError(APIError):
    """Raised when the platform rejects the credentials (missing, wrong or disabled key)."""


class PermissionDeniedError(APIError):
    """Raised when the credentials are valid but not allowed to do this (HTTP 403)."""


class NotFoundError(APIError):
    """Raised when the segment or recipient does not exist (or belongs to someone else)."""


class ValidationError(APIError):
    """Raised when the platform rejects the input; ``field_errors`` says which field and why."""


class QuotaExceededError(APIError):
    """Raised when the account's plan limits forbid the operation."""


class RateLimitError(APIError):
    """Raised when the platform's rate limit was hit and retries ran out; see ``retry_after``."""


class ServerError(APIError):
    """Raised for 5xx answers after retries; ``raw_body`` holds a short text excerpt."""


class UnexpectedResponseError(APIError):
    """Raised when the answer cannot be understood: bad JSON, wrong shape, an HTML error page."""


#: One table from HTTP status to error class. Statuses not listed fall back by class
#: (4xx → :class:`APIError`, 5xx → :class:`ServerError`) in :func:`error_class_for_status`.
STATUS_ERRORS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: QuotaExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ValidationError,
    410: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[APIError]:
    """Return the error class for an HTTP failure status (any integer is accepted)."""
    cls = STATUS_ERRORS.get(status)
    if cls is not None:
        return cls
    if 500 <= status <= 599:
        return ServerError
    if 400 <= status <= 499:
        return APIError
    # 1xx/2xx/3xx reaching here means the body said "failure" or the status is nonsense.
    return UnexpectedResponseError


@functools.cache
def _requests_errors() -> tuple[tuple[type[BaseException], type[TransportError], str], ...]:
    """``requests`` exception -> ours, with words. Built on first use: ``requests`` is imported
    by whatever raised the exception, not by ``import segmentkit.errors`` (issue 14).

    Order matters: subclasses before their bases (``ConnectTimeout`` is both a
    ``ConnectionError`` and a ``Timeout``; it is a timeout that never reached the server)."""
    import requests

    return (
        (requests.exceptions.ConnectTimeout, RequestTimeoutError, "timed out connecting"),
        (requests.exceptions.ReadTimeout, RequestTimeoutError, "timed out waiting for the answer"),
        (requests.exceptions.Timeout, RequestTimeoutError, "timed out"),
        (requests.exceptions.SSLError, ConnectionFailedError, "TLS handshake failed"),
        (requests.exceptions.ProxyError, ConnectionFailedError, "proxy refused the connection"),
        (requests.exceptions.ConnectionError, ConnectionFailedError, "connection failed"),
        (requests.exceptions.ChunkedEncodingError, ConnectionFailedError, "answer cut off"),
        (requests.exceptions.ContentDecodingError, ConnectionFailedError, "answer undecodable"),
        (requests.exceptions.StreamConsumedError, ConnectionFailedError, "answer already read"),
        (requests.exceptions.RetryError, ConnectionFailedError, "retries exhausted"),
        (requests.exceptions.TooManyRedirects, ConnectionFailedError, "too many redirects"),
        (requests.exceptions.InvalidJSONError, ConnectionFailedError, "request body not JSON"),
        (requests.exceptions.MissingSchema, ConnectionFailedError, "URL has no scheme"),
        (requests.exceptions.InvalidSchema, ConnectionFailedError, "URL scheme not supported"),
        (requests.exceptions.InvalidURL, ConnectionFailedError, "invalid URL"),
        (requests.exceptions.InvalidHeader, ConnectionFailedError, "invalid header"),
        (requests.exceptions.URLRequired, ConnectionFailedError, "no URL"),
        (requests.exceptions.HTTPError, ConnectionFailedError, "HTTP error"),
        (requests.exceptions.UnrewindableBodyError, ConnectionFailedError, "body not rewindable"),
        (requests.exceptions.RequestException, ConnectionFailedError, "request failed"),
    )


def translate_requests_error(
    exc: requests.exceptions.RequestException,
    *,
    provider: str | None = None,
    method: str = "",
    url: str = "",
) -> TransportError:
    """Map any ``requests`` exception to a :class:`TransportError` subclass.

    The only place where foreign exceptions become ours. The caller raises the result
    ``from exc``. ``url`` must already be redacted.
    """
    for foreign, ours, words in _requests_errors():
        if isinstance(exc, foreign):
            return ours(f"{words}: {type(exc).__name__}", provider=provider, method=method, url=url)
    return ConnectionFailedError(
        f"request failed: {type(exc).__name__}", provider=provider, method=method, url=url
    )
