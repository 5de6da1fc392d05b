"""Keeping secrets out of everything that prints.

A :class:`Redactor` knows a client's secret values (from the adapter's ``SecretStr``
credentials) and the header names that carry them. Everything the core logs, stores on an
error, or emits as an event goes through it first. Custom header names such as ``PublicKey`` /
``SecretKey`` are declared by the adapter, so generic filters that only know ``Authorization``
do not miss them.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "SecretLogFilter", "get_logger", "mask", "secret_forms"]

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


def _json_forms(secret: str) -> set[str]:
    """The ways a JSON encoder can write ``secret`` inside a string literal."""
    out = set()
    for ascii_only in (True, False):
        body = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        out.add(body)
        out.add(body.replace("/", "\\/"))  # PHP's json_encode escapes "/" as "\/"
    # Encoders that escape more than they must: every non-ASCII character and HTML-sensitive
    # ones as \uXXXX (Go, PHP's JSON_HEX_*), or every non-alphanumeric character.
    hexed = json.dumps(secret, ensure_ascii=True)[1:-1]
    for c in "<>&'":
        hexed = hexed.replace(c, f"\\u{ord(c):04x}")
    out.add(hexed)
    out.add("".join(c if c.isalnum() and c.isascii() else f"\\u{ord(c):04x}" for c in secret))
    return out


def secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` that text we keep can contain.

    A server may echo a key raw, JSON-escaped (``\\"``, ``\\\\``, ``\\/``, ``\\u00e9``),
    percent-encoded (query strings, form bodies), HTML-escaped (error pages), or as the base64
    of a credential header value; :func:`mask` and :class:`Redactor` match all of them
    (case-insensitively, as hex digits come in either case).
    """
    forms = {secret}
    forms |= _json_forms(secret)
    for f in list(forms):  # JSON text that was itself JSON-encoded again (re-serialised)
        forms |= _json_forms(f)
    for safe in ("", "/"):
        forms.add(quote(secret, safe=safe))
        forms.add(quote_plus(secret, safe=safe))
    forms.add(html.escape(secret, quote=True))
    forms.add(html.escape(secret, quote=True).replace("&#x27;", "&#39;"))
    forms.add(html.escape(secret, quote=False))
    # Header values travel as Latin-1 (http.client); bodies as UTF-8.
    forms |= _base64_forms(secret.encode("utf-8", errors="surrogatepass"))
    if all(ord(c) < 256 for c in secret):
        forms |= _base64_forms(secret.encode("latin-1"))
    return {f for f in forms if f}


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 text that encodes ``raw`` wherever it sits in a longer value (``Basic
    user:key``, ``Bearer key``): one stable run of characters per byte alignment."""
    out = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for pad in range(3):
            text = encode(b"\0" * pad + raw).decode("ascii")
            whole_groups = (pad + len(raw)) // 3
            core = text[4 if pad else 0 : whole_groups * 4]
            if len(core) >= 8:
                out.add(core)
    return out


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for s in secrets:
        forms |= secret_forms(s)
    ordered = sorted(forms, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(f) for f in ordered), re.IGNORECASE)


def _rebuild_pattern() -> None:
    global _known_pattern
    _known_pattern = _compile(_known_secrets)


def mask(text: str) -> str:
    """Replace every secret known to this process (in every spelling of
    :func:`secret_forms`) in ``text`` with ``***``."""
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
        self._pattern = _compile(self.secrets)
        if self.secrets:
            with _known_lock:
                if not self.secrets <= _known_secrets:
                    _known_secrets.update(self.secrets)
                    _rebuild_pattern()

    def text(self, value: str) -> str:
        """``value`` with every secret, in every spelling of :func:`secret_forms`, replaced by
        ``***``."""
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
