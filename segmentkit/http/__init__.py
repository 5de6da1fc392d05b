"""The HTTP pipeline: :class:`Session` (what adapters call), one-attempt :class:`Transport`,
retry and pacing decisions, answer decoding and error rules, paging."""

from .envelope import Decoder, ErrorRules, messages_from_body, text_excerpt
from .paging import (
    Cursor,
    Listing,
    PageNumber,
    PagingStyle,
    RepeatGuard,
    Unpaged,
    walk_pages,
)
from .retry import Pacer, RateLimit, RetryPolicy, parse_retry_after, server_wait
from .session import Retry, RetryMode, Session, Timeout
from .transport import (
    ClientOptions,
    ResponseDeadlineError,
    ResponseTooLargeError,
    Stats,
    Transport,
)

__all__ = [
    "ClientOptions",
    "Cursor",
    "Decoder",
    "ErrorRules",
    "Listing",
    "Pacer",
    "PageNumber",
    "PagingStyle",
    "RateLimit",
    "RepeatGuard",
    "ResponseDeadlineError",
    "ResponseTooLargeError",
    "Retry",
    "RetryMode",
    "RetryPolicy",
    "Session",
    "Stats",
    "Timeout",
    "Transport",
    "Unpaged",
    "messages_from_body",
    "parse_retry_after",
    "server_wait",
    "text_excerpt",
    "walk_pages",
]
