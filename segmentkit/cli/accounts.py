"""Which account a command talks to: ``--dsn``, ``--account NAME`` or ``SEGMENTKIT_DSN``.

Named accounts live in a TOML file, ``$SEGMENTKIT_CONFIG`` or else ``config.toml`` in the user
config directory (``click.get_app_dir("segmentkit")``, e.g. ``~/.config/segmentkit/``)::

    [accounts.sms]
    dsn = "notificator://API_KEY@notificatorsms.com"

    [accounts.mail]
    dsn = "allstech://PUBLIC_KEY:SECRET_KEY@mail.allstechnology.com"
    coordination = "redis://127.0.0.1:6379/0"   # optional: workers on several hosts

``coordination`` (optional) is the account's default for ``--coordination`` (see
:func:`segmentkit.coordination.get_coordinator`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigurationError

__all__ = [
    "Endpoint",
    "account_coordination",
    "config_path",
    "load_accounts",
    "parse_endpoint",
    "resolve_dsn",
]


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$SEGMENTKIT_CONFIG``, else ``<user config dir>/segmentkit/config.toml``."""
    env = os.environ if env is None else env
    explicit = env.get("SEGMENTKIT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(click.get_app_dir("segmentkit")) / "config.toml"


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    try:  # pragma: no cover - Python 3.10 only
        import tomli  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10 only
        raise ConfigurationError(
            "reading the account file needs Python 3.11+ (tomllib) or the 'tomli' package on "
            "Python 3.10: pip install tomli; or pass --dsn / set SEGMENTKIT_DSN instead"
        ) from None
    result: dict[str, Any] = tomli.loads(text)
    return result


def load_accounts(path: Path) -> dict[str, str]:
    """Account name → DSN from the TOML file at ``path`` (``{}`` when the file is absent)."""
    if not path.exists():
        return {}
    try:
        data = _toml_loads(path.read_text(encoding="utf-8-sig"))
    except ConfigurationError:
        raise
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"cannot read the account file {path}: {exc}") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigurationError(f"the account file {path} is not valid TOML: {exc}") from None
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ConfigurationError(f"{path}: 'accounts' must be a table ([accounts.NAME])")
    out: dict[str, str] = {}
    for name, table in accounts.items():
        dsn = table.get("dsn") if isinstance(table, dict) else None
        if not isinstance(dsn, str) or not dsn.strip():
            raise ConfigurationError(f'{path}: [accounts.{name}] needs dsn = "<provider>://..."')
        out[str(name)] = dsn.strip()
    return out


def resolve_dsn(
    *,
    dsn: str | None,
    account: str | None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The DSN a command uses: ``--dsn``, else ``--account`` from the file, else
    ``SEGMENTKIT_DSN``; :class:`ConfigurationError` saying how to choose one otherwise."""
    env = os.environ if env is None else env
    if dsn and account:
        raise ConfigurationError("pass --dsn or --account, not both")
    if dsn:
        return dsn
    if account:
        return account_dsn(account, env)
    from_env = env.get("SEGMENTKIT_DSN")
    if from_env:
        return from_env
    raise ConfigurationError(
        "no account chosen: pass --dsn <provider>://..., or --account NAME (from "
        f"{config_path(env)}), or set SEGMENTKIT_DSN"
    )


def account_dsn(name: str, env: Mapping[str, str] | None = None) -> str:
    """The DSN of the named account; :class:`ConfigurationError` listing the known names."""
    path = config_path(env)
    accounts = load_accounts(path)
    if name not in accounts:
        known = ", ".join(sorted(accounts)) or "none"
        raise ConfigurationError(
            f"no account named {name!r} in {path} (accounts there: {known}); add "
            f'[accounts.{name}] dsn = "<provider>://..." or set SEGMENTKIT_CONFIG'
        )
    return accounts[name]


def account_coordination(name: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The ``coordination = "..."`` of the named account in the file, else ``None``."""
    if not name:
        return None
    path = config_path(env)
    if not path.exists():
        return None
    try:
        data = _toml_loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeError, ValueError):
        return None  # load_accounts reports an unreadable file when the DSN is resolved
    table = data.get("accounts", {})
    table = table.get(name) if isinstance(table, dict) else None
    value = table.get("coordination") if isinstance(table, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f'{path}: [accounts.{name}] coordination must be "local", "host" or "redis://..."'
        )
    return value.strip()


@dataclass(frozen=True)
class Endpoint:
    """One side of ``copy``: the DSN and, optionally, a segment id or name."""

    dsn: str
    segment: str | None


def parse_endpoint(text: str, env: Mapping[str, str] | None = None) -> Endpoint:
    """Parse ``ACCOUNT[:SEGMENT]`` (an account name from the file) or ``DSN[#SEGMENT]`` (a DSN
    contains ``:`` itself, so its segment follows ``#``)."""
    text = text.strip()
    if "://" in text:
        dsn, _, segment = text.partition("#")
        return Endpoint(dsn=dsn, segment=segment.strip() or None)
    name, _, segment = text.partition(":")
    if not name:
        raise ConfigurationError(f"{text!r}: expected ACCOUNT[:SEGMENT] or DSN[#SEGMENT]")
    return Endpoint(dsn=account_dsn(name, env), segment=segment.strip() or None)
