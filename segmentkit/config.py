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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pydantic
from pydantic import BaseModel, SecretStr

from .errors import ConfigurationError
from .redact import MASK

__all__ = ["DSN", "is_loopback", "parse_dsn", "resolve_base_url", "resolve_credentials"]


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


def parse_dsn(dsn: str) -> DSN:
    """Parse ``dsn``; raise :class:`ConfigurationError` (without echoing secrets) if malformed."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or not scheme:
        raise ConfigurationError(
            "a DSN looks like '<provider>://<credentials>@<host>'; got something without '://'"
        )
    provider, plus, transport = scheme.lower().partition("+")
    if plus and transport not in ("http", "https"):
        raise ConfigurationError(f"DSN scheme suffix must be +http or +https, not +{transport}")
    hostpart, _, query = rest.partition("?")
    userinfo, at, hostpath = hostpart.rpartition("@")
    if not at:
        hostpath, userinfo = hostpart, ""
    slash = hostpath.find("/")
    hostport, path = (hostpath, "") if slash < 0 else (hostpath[:slash], hostpath[slash:])
    try:
        parsed = urlsplit(f"//{hostport}")
        host = parsed.hostname or ""
        port = parsed.port
    except ValueError:
        raise ConfigurationError(f"DSN for {provider!r} has an invalid host or port") from None
    if not host:
        raise ConfigurationError(f"DSN for {provider!r} has no host")
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
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    """Build the adapter's ``Credentials`` following the lookup order of this module."""
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
    """Pick the base URL (lookup order above) and refuse plain HTTP off loopback."""
    if base_url:
        url = base_url
    elif dsn is not None:
        url = dsn.base_url(default_base_url)
    elif env.get(env_name(provider, "base_url")):
        url = env[env_name(provider, "base_url")]
    else:
        url = default_base_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{provider}: base URL must be http(s)://host/..., got {url!r}")
    if parts.scheme == "http" and not (allow_insecure or is_loopback(parts.hostname)):
        raise ConfigurationError(
            f"{provider}: plain HTTP to {parts.hostname} would send credentials unencrypted; "
            "use https, a loopback host, or allow_insecure=True"
        )
    return url if url.endswith("/") else url + "/"
