"""Keeping secrets out of everything that prints.

A :class:`Redactor` knows a client's secret values (from the adapter's ``SecretStr``
credentials) and the header names that carry them. Everything the core logs, stores on an
error, or emits as an event goes through it first. Custom header names such as ``PublicKey`` /
``SecretKey`` are declared by the adapter, so generic filters that only know ``Authorization``
do not miss them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "SecretLogFilter", "get_logger", "mask"]

MASK = "***"

#: Header names masked by every redactor, compared case-insensitively.
DEFAULT_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
#: Query/form field names masked by every redactor (substring match, case-insensitive).
_SECRET_FIELD_HINTS = ("key", "token", "secret", "password", "auth", "signature")

# Every secret any Redactor in this process knows; the log filter scrubs them from records no
# matter which logger they come from. Values are stored only in memory, never printed.
_known_secrets: set[str] = set()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def _rebuild_pattern() -> None:
    global _known_pattern
    ordered = sorted(_known_secrets, key=len, reverse=True)
    _known_pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None


def mask(text: str) -> str:
    """Replace every secret known to this process in ``text`` with ``***``."""
    pattern = _known_pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


class Redactor:
    """Masks one client's secrets in strings, headers, URLs and form fields."""

    __slots__ = ("_pattern", "secret_headers", "secrets")

    def __init__(self, secrets: Iterable[str] = (), secret_headers: Iterable[str] = ()) -> None:
        # Very short values would mask ordinary text; a real key is never this short.
        self.secrets = frozenset(s for s in secrets if s and len(s) >= 4)
        self.secret_headers = DEFAULT_SECRET_HEADERS | {h.lower() for h in secret_headers}
        ordered = sorted(self.secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
        if self.secrets:
            with _known_lock:
                if not self.secrets <= _known_secrets:
                    _known_secrets.update(self.secrets)
                    _rebuild_pattern()

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``***``."""
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """A copy of ``headers`` with secret-bearing ones masked."""
        return {
            k: (MASK if k.lower() in self.secret_headers else self.text(str(v)))
            for k, v in headers.items()
        }

    def fields(self, data: Mapping[str, object] | None) -> dict[str, str]:
        """Form or query fields as strings, secret-looking names and known secrets masked."""
        out: dict[str, str] = {}
        for k, v in (data or {}).items():
            name = str(k)
            if any(h in name.lower() for h in _SECRET_FIELD_HINTS) and "_id" not in name:
                out[name] = MASK
            else:
                out[name] = self.text(str(v))
        return out

    def url(self, url: str) -> str:
        """``url`` without userinfo, with secret-looking query values masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(list(self.fields(dict(pairs)).items()), safe="[]")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


class SecretLogFilter(logging.Filter):
    """A logging filter that masks every known secret in the rendered message.

    Attached to segmentkit's loggers by :func:`get_logger`; users may attach it to their own
    handlers too (``handler.addFilter(SecretLogFilter())``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _known_pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; leave it alone
            return True
        cleaned = mask(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


_FILTER = SecretLogFilter()


def get_logger(name: str) -> logging.Logger:
    """A segmentkit logger with the secret filter attached."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
