"""Turning a DSN, keywords and environment variables into a configured adapter.

Lookup order, for every credential field and the base URL (first hit wins):

1. keywords passed to :func:`segmentkit.connect` (``api_key=...``, ``base_url=...``);
2. the DSN: ``<provider>://<cred1>[:<cred2>...]@<host>[:<port>][/<path>][?<setting>=<v>]``
   (credentials in the adapter's ``Credentials`` field order, ``:``-separated and
   percent-decoded; the query string holds adapter settings);
3. environment variables ``SEGMENTKIT_<PROVIDER>_<FIELD>`` and ``SEGMENTKIT_<PROVIDER>_BASE_URL``;
4. for the base URL only, the adapter's ``default_base_url``.

A DSN host without a path gets the path of the adapter's default base URL
(``notificator://KEY@invionotifiche.it`` → ``https://invionotifiche.it/api/``). TLS is always
used; ``<provider>+http://`` is accepted only for loopback hosts unless ``allow_insecure=True``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pydantic
from pydantic import BaseModel, SecretStr
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .errors import ConfigurationError
from .redact import _SECRET_FIELD_HINTS, MASK

__all__ = [
    "DSN",
    "check_credential",
    "check_url",
    "describe_target",
    "is_loopback",
    "parse_dsn",
    "resolve_base_url",
    "resolve_credentials",
]

#: What a provider name looks like (the same rule :mod:`segmentkit.plugins` enforces).
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: A host as we accept it: a DNS name, an IPv4 address, or a bracketed IPv6 address.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$")
_DSN_SHAPE = "a DSN looks like '<provider>://<credentials>@<host>[:<port>][/<path>]'"


@dataclass(frozen=True)
class DSN:
    """A parsed DSN. Its ``repr`` and ``str`` mask the credentials."""

    provider: str
    scheme: str  # "https" or "http"
    credentials: tuple[str, ...] = field(repr=False)
    host: str
    port: int | None = None
    path: str = ""
    query: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        creds = ":".join(MASK for _ in self.credentials)
        suffix = "+http" if self.scheme == "http" else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        at = f"{creds}@" if creds else ""
        return f"{self.provider}{suffix}://{at}{host}{port}{self.path}"

    def base_url(self, default_base_url: str) -> str:
        """The base URL this DSN points at (path defaults to the adapter's default path)."""
        path = self.path or urlsplit(default_base_url).path or "/"
        if not path.endswith("/"):
            path += "/"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{host}{port}{path}"


def _is_secret_setting(name: str) -> bool:
    lowered = name.lower()
    return any(h in lowered for h in _SECRET_FIELD_HINTS) and "_id" not in lowered


def _host_text(hostport: str) -> str | None:
    """``hostport`` if it is a plain ``host[:port]`` (safe to show), else ``None``."""
    host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not host:
        host, port = hostport, ""
    if not _HOST.match(host) or (port and not port.isdigit()):
        return None
    return hostport


def describe_target(target: str) -> str:
    """A rendering of a ``connect()`` target (provider name or DSN) that carries no credential.

    For ``connecting to ...`` lines and error messages. Credentials become ``***``, and so
    does everything that could be one: anything before an ``@``, the value of a secret-looking
    query setting, and any part that does not parse as a provider name, host or path. A
    well-formed DSN renders like :class:`DSN`'s ``str``; a mistyped one keeps only its
    recognisable parts (``notificator:/***@notificatorsms.com``), so the typo stays visible.
    """
    text = str(target).strip()
    if "://" not in text:
        return _describe_mistyped(text)
    try:
        dsn = parse_dsn(text)
    except ConfigurationError:
        return _describe_mistyped(text)
    rendered = str(dsn)
    if not _looks_like_name(dsn.provider):
        rendered = MASK + rendered[len(dsn.provider) :]
    if dsn.query:
        rendered += "?" + "&".join(
            f"{k}={MASK if _is_secret_setting(k) else v}"
            if _PROVIDER_NAME.match(k.lower())
            else MASK
            for k, v in dsn.query.items()
        )
    return rendered


def _looks_like_name(word: str) -> bool:
    """Whether ``word`` may be shown as a provider name. A key pasted in the wrong place is
    also one word: words longer than 12 characters that contain a digit are not shown."""
    return bool(_PROVIDER_NAME.match(word.lower())) and (
        len(word) <= 12 or not any(c.isdigit() for c in word)
    )


def _describe_mistyped(text: str) -> str:
    """Best-effort, credential-free rendering of something DSN-like that did not parse."""
    text = text.strip()
    head = re.match(r"^([A-Za-z][A-Za-z0-9_]{0,39}(?:\+https?)?)([:/]{0,3})", text)
    if head and not _looks_like_name(head.group(1).partition("+")[0]):
        head = None
    prefix = (head.group(1).lower() + head.group(2)) if head else ""
    rest = text[len(head.group(0)) :] if head else text
    if "@" in rest:
        after = rest.rpartition("@")[2]
        hostport, slash, path = after.partition("/")
        shown = _host_text(hostport.split("?")[0])
        tail = ""
        if shown is not None and slash and re.match(r"^[A-Za-z0-9._~/-]*$", path):
            tail = "/" + path
        return f"{prefix}{MASK}@{shown if shown is not None else MASK}{tail}"
    return f"{prefix}{MASK}" if rest else prefix or MASK


def _unsafe_char(text: str) -> str | None:
    """A description of the first character of ``text`` no URL of ours may contain."""
    for c in text:
        if c == "\\":
            return "a backslash"
        if c.isspace():
            return "whitespace"
        if unicodedata.category(c) == "Cc":
            return "a control character"
        if not c.isascii():
            return "a non-ASCII character (write an IDN host in its xn-- form)"
    return None


def parse_dsn(dsn: str) -> DSN:
    """Parse ``dsn``; raise :class:`ConfigurationError` (without echoing secrets) if malformed.

    Refused: no ``://``, a scheme that is not a provider name (optionally ``+http`` /
    ``+https``), a host that is not a DNS name, IPv4 or bracketed IPv6 address, a bad port,
    backslashes, whitespace, control characters or a ``#`` fragment outside the credentials.
    Messages render the DSN with :func:`describe_target`.
    """
    scheme, sep, rest = dsn.partition("://")
    if not sep or not scheme:
        raise ConfigurationError(
            f"{_DSN_SHAPE}; got something without '://': {_describe_mistyped(dsn)}"
        )
    provider, plus, transport = scheme.lower().partition("+")
    if not _PROVIDER_NAME.match(provider):
        raise ConfigurationError(
            f"{_DSN_SHAPE}; the part before '://' is not a provider name: {_describe_mistyped(dsn)}"
        )
    if plus and transport not in ("http", "https"):
        shown = transport if re.match(r"^[a-z0-9]{1,10}$", transport) else MASK
        raise ConfigurationError(f"DSN scheme suffix must be +http or +https, not +{shown}")
    hostpart, _, query = rest.partition("?")
    userinfo, at, hostpath = hostpart.rpartition("@")
    if not at:
        hostpath, userinfo = hostpart, ""
    slash = hostpath.find("/")
    hostport, path = (hostpath, "") if slash < 0 else (hostpath[:slash], hostpath[slash:])
    bad = _unsafe_char(hostpath) or _unsafe_char(query)
    if bad is None and "#" in hostpath + query:
        bad = "a '#' fragment"
    if bad:
        raise ConfigurationError(
            f"DSN for {provider!r}: the host, path or settings contain {bad}: "
            f"{_describe_mistyped(dsn)}"
        )
    try:
        parsed = urlsplit(f"//{hostport}")
        host = parsed.hostname or ""
        port = parsed.port
    except ValueError:
        raise ConfigurationError(f"DSN for {provider!r} has an invalid host or port") from None
    if not host:
        raise ConfigurationError(f"DSN for {provider!r} has no host")
    if port == 0 or not _HOST.match(f"[{host}]" if ":" in host else host):
        raise ConfigurationError(f"DSN for {provider!r} has an invalid host or port")
    if not at and "." not in host and ":" not in host and host != "localhost":
        # "notificator://KEY" (the '@host' forgotten) would otherwise take the key for a host.
        raise ConfigurationError(
            f"DSN for {provider!r} has no '@<host>' and {MASK!r} is not a host name; {_DSN_SHAPE}"
        )
    creds = tuple(unquote(p) for p in userinfo.split(":")) if userinfo else ()
    return DSN(
        provider=provider,
        scheme="http" if transport == "http" else "https",
        credentials=creds,
        host=host,
        port=port,
        path=path,
        query=dict(parse_qsl(query, keep_blank_values=True)),
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1) only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_credential(provider: str, field_name: str, value: str) -> None:
    """Refuse a credential an HTTP header cannot carry as it is.

    Leading or trailing whitespace (``"KEY\\n"`` read from a file), control characters
    (``"KEY\\r\\nX-Evil: 1"``) and characters outside Latin-1 would otherwise fail deep in
    ``requests`` with an exception that quotes the header value. The message names the field,
    never the value.
    """
    problem = None
    if value != value.strip():
        problem = "leading or trailing whitespace (a newline read from a file?)"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        problem = "control characters"
    elif any(ord(c) > 0xFF for c in value):
        problem = "characters an HTTP header cannot carry"
    if problem:
        raise ConfigurationError(
            f"{provider}: credential {field_name!r} contains {problem}; "
            "fix the value (it is not shown here)"
        )


def check_url(provider: str, url: str, *, source: str, allow_insecure: bool) -> str:
    """Check a base URL exactly as the HTTP stack will use it; return it with a final ``/``.

    ``source`` says where the URL came from (for the message). Refused: anything but
    ``http``/``https``; userinfo (``user@``); backslashes, whitespace, control or non-ASCII
    characters; query strings and fragments; any URL on which :func:`urllib.parse.urlsplit`
    and urllib3's parser (which ``requests`` uses to connect) disagree about the host or
    port; plain HTTP to a host that is not loopback (127.0.0.0/8, ``::1``, ``localhost``)
    unless ``allow_insecure``. Messages never echo userinfo.
    """
    where = f"{provider}: base URL ({source})"
    if not isinstance(url, str):
        raise ConfigurationError(f"{where} must be a string")
    bad = _unsafe_char(url)
    if bad:
        raise ConfigurationError(f"{where} contains {bad}")
    try:
        parts = urlsplit(url)
        split_port = parts.port
    except ValueError:
        raise ConfigurationError(f"{where} has an invalid host or port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{where} must look like https://host[:port]/path/, got {_safe_url(url)}"
        )
    if "@" in parts.netloc:
        raise ConfigurationError(f"{where} must not contain userinfo ('...@' before the host)")
    if "#" in url or "?" in url:
        raise ConfigurationError(f"{where} must not contain a query string or fragment")
    try:
        stack = parse_url(url)
    except LocationParseError:
        raise ConfigurationError(f"{where} has an invalid host or port") from None
    stack_host = (stack.host or "").strip("[]").lower()
    if stack_host != parts.hostname.lower() or (stack.port != split_port) or split_port == 0:
        raise ConfigurationError(
            f"{where} is ambiguous: its host is not read the same way everywhere"
        )
    if not _HOST.match(f"[{stack_host}]" if ":" in stack_host else stack_host):
        raise ConfigurationError(f"{where} has an invalid host")
    if parts.scheme == "http" and not (allow_insecure or is_loopback(stack_host)):
        raise ConfigurationError(
            f"{provider}: plain HTTP to {stack_host} would send credentials unencrypted; "
            "use https, a loopback host, or allow_insecure=True"
        )
    return url if url.endswith("/") else url + "/"


def _safe_url(url: str) -> str:
    """``url`` without userinfo, query or fragment (for messages)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return MASK
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else MASK


def env_name(provider: str, field_name: str) -> str:
    """``SEGMENTKIT_<PROVIDER>_<FIELD>``."""
    return f"SEGMENTKIT_{provider.upper()}_{field_name.upper()}"


def resolve_credentials(
    provider: str,
    model: type[BaseModel],
    *,
    keywords: Mapping[str, Any],
    dsn: DSN | None,
    env: Mapping[str, str],
) -> BaseModel:
    """Build the adapter's ``Credentials`` following the lookup order of this module.

    Every string credential passes :func:`check_credential` first.
    """
    fields = list(model.model_fields)
    if dsn is not None and len(dsn.credentials) > len(fields):
        raise ConfigurationError(
            f"{provider}: the DSN has {len(dsn.credentials)} credential parts but the adapter "
            f"takes {len(fields)} ({', '.join(fields)})"
        )
    values: dict[str, Any] = {}
    for i, fname in enumerate(fields):
        given = keywords.get(fname)
        if isinstance(given, SecretStr):
            given = given.get_secret_value()
        if given not in (None, ""):
            values[fname] = given
        elif dsn is not None and i < len(dsn.credentials) and dsn.credentials[i]:
            values[fname] = dsn.credentials[i]
        elif env.get(env_name(provider, fname)):
            values[fname] = env[env_name(provider, fname)]
    for fname, value in values.items():
        if isinstance(value, str):
            check_credential(provider, fname, value)
    missing = [
        f for f, info in model.model_fields.items() if info.is_required() and f not in values
    ]
    if missing:
        hints = "; ".join(f"pass {f}=..., or set {env_name(provider, f)}" for f in missing)
        order = ":".join(f"<{f}>" for f in fields)
        raise ConfigurationError(
            f"{provider}: missing credential {', '.join(missing)}: {hints}; "
            f"or use a DSN {provider}://{order}@<host>"
        )
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"{provider}: invalid credentials: {problems}") from None


def resolve_base_url(
    provider: str,
    default_base_url: str,
    *,
    base_url: str | None,
    dsn: DSN | None,
    env: Mapping[str, str],
    allow_insecure: bool,
) -> str:
    """Pick the base URL (lookup order above) and check it with :func:`check_url`."""
    if base_url:
        url, source = base_url, "base_url keyword"
    elif dsn is not None:
        url, source = dsn.base_url(default_base_url), "DSN"
    elif env.get(env_name(provider, "base_url")):
        url, source = env[env_name(provider, "base_url")], env_name(provider, "base_url")
    else:
        url, source = default_base_url, "adapter default"
    return check_url(provider, url, source=source, allow_insecure=allow_insecure)
