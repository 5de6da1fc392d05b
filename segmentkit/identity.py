"""Identity normalisation: e-mail addresses and phone numbers, fast.

:func:`normalize_email` and :func:`normalize_phone` are the single place where segmentkit
decides whether an e-mail address or a phone number is acceptable and what its canonical form
is. Both are also exported from :mod:`segmentkit.models`.

Speed without a second opinion:

* ``email-validator`` costs tens of µs an address. Most addresses in real lists are plain
  ASCII ``dot-atom@host.tld``; for exactly those a few string checks reach the same verdict and
  the same normalised value (local part as given, domain lower-cased). Anything else (quoted
  local parts, non-ASCII, Punycode labels, RFC 2142 role mailboxes, special-use domains,
  lengths near the limits...) goes to ``email-validator`` unchanged. The fast path never
  *rejects*: it only answers when it is sure the full check would accept with that value.
  ``tests/core/test_identity_differential.py`` compares both over a large generated corpus.
* libphonenumber costs ~100 µs a number; each distinct (number, region) is parsed once and
  kept in a bounded LRU cache, so memory stays flat over long listings. Failures are not
  cached: they re-raise (same message) each time.

``phonenumbers`` and ``email_validator`` are imported on first use, not with ``segmentkit``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .errors import InvalidRecipientError

__all__ = ["normalize_email", "normalize_phone"]

#: Distinct raw values remembered per function (a few MiB at most).
CACHE_SIZE = 16384
#: Distinct phone numbers remembered: libphonenumber costs ~100 µs a number, and a 66text
#: listing meets each number up to three times (the segment's list, its contacts, the
#: members); ~270 bytes an entry, so at most ~17 MiB. Audiences up to this size are parsed
#: once per process, not once per listing (issue 14).
PHONE_CACHE_SIZE = 65536

# RFC 5322 atext (what email-validator's DOT_ATOM_TEXT accepts), ASCII only.
_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_FAST_LOCAL = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
# Host labels without any "--" (which would bring IDNA/Punycode rules in) and a TLD of letters
# only (email-validator wants the domain to end with a letter and to hold a period).
_FAST_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9]|-(?!-)){0,62}(?<!-)\.)+[a-zA-Z]{2,63}"


@functools.lru_cache(maxsize=1)
def _fast_address() -> re.Pattern[str]:
    """Both parts at once (one regex call per address on the hot path): neither part can hold
    an "@", so this splits where ``str.partition("@")`` would. Compiled on first use, not
    with ``import segmentkit`` (issue 14)."""
    return re.compile(rf"({_FAST_LOCAL})@({_FAST_DOMAIN})\Z")


_LOCAL_MAX = 64  # RFC 5321 4.5.3.1.1, email-validator LOCAL_PART_MAX_LENGTH
_DOMAIN_MAX = 253  # email-validator DOMAIN_MAX_LENGTH
_EMAIL_MAX = 254  # email-validator EMAIL_MAX_LENGTH


@functools.lru_cache(maxsize=1)
def _email_rules() -> tuple[frozenset[str], frozenset[str]] | None:
    """email-validator's own lists: RFC 2142 role mailboxes it lower-cases and the
    special-use domains it refuses (read from the library, not copied). ``None`` (fast path
    off) when this version of the library does not have them where expected."""
    import email_validator

    try:
        from email_validator.rfc_constants import (
            CASE_INSENSITIVE_MAILBOX_NAMES as names,  # noqa: N811
        )
    except ImportError:  # pragma: no cover - another email-validator layout
        return None
    special: Any = getattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", None)
    if special is None:  # pragma: no cover - another email-validator layout
        return None
    return frozenset(str(n).lower() for n in names), frozenset(str(d).lower() for d in special)


def _fast_email(text: str) -> str | None:
    """The normalised address when ``text`` is an ordinary ASCII address the full check is
    certain to accept unchanged but for the domain's case; ``None`` means "ask the full
    check" (never "invalid")."""
    if len(text) > _EMAIL_MAX or not text.isascii():
        return None
    m = _fast_address().match(text)
    if m is None:
        return None
    local, domain = m.group(1, 2)
    # Labels are at most 63 characters by the pattern itself.
    if len(local) > _LOCAL_MAX:
        return None
    rules = _email_rules()
    if rules is None or local.lower() in rules[0]:
        return None
    lowered = _fast_domain(domain)
    return None if lowered is None else f"{local}@{lowered}"


@functools.lru_cache(maxsize=CACHE_SIZE)
def _fast_domain(domain: str) -> str | None:
    """``domain`` (an ASCII host name of ``_FAST_DOMAIN``'s shape) lower-cased, or ``None``
    when it is too long or it or a parent of it is a special-use domain. Cached: a list has
    few distinct domains, so this is one dictionary look-up an address."""
    rules = _email_rules()
    if rules is None or len(domain) > _DOMAIN_MAX:
        return None
    special = rules[1]
    domain = domain.lower()
    suffix = domain
    while True:
        if suffix in special:
            return None
        dot = suffix.find(".")
        if dot < 0:
            return domain
        suffix = suffix[dot + 1 :]


def normalize_email(value: str) -> str:
    """Return ``value`` syntax-checked and normalised (domain lower-cased, IDNA applied), or
    raise :class:`InvalidRecipientError`. No DNS lookups.

    Surrounding whitespace is ignored. The verdict and value are email-validator's
    (``check_deliverability=False``); ordinary ASCII addresses take a verified fast path.
    """
    text = str(value).strip()
    fast = _fast_email(text)
    if fast is not None:
        return fast
    return _full_email(text)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _full_email(text: str) -> str:
    """email-validator's verdict (the reference the fast path is tested against)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidRecipientError(
            f"email {text!r} is not valid: {exc}", field="email", value=text
        ) from None
    return str(info.normalized)


def normalize_phone(value: str, default_region: str | None = None) -> str:
    """Return ``value`` as E.164 (``+393331234567``) or raise :class:`InvalidRecipientError`.

    A national number (no leading ``+``/``00``) is accepted only with ``default_region``:
    segmentkit never guesses a country. Each distinct (value, region) is parsed once (bounded
    LRU cache); failures are not cached.
    """
    return _normalize_phone(str(value).strip(), default_region)


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _normalize_phone(value: str, default_region: str | None) -> str:
    return _full_phone(value, default_region)


def _full_phone(value: str, default_region: str | None) -> str:
    """libphonenumber's verdict, uncached (the reference the cache is tested against)."""
    import phonenumbers

    text = value
    if not text:
        raise InvalidRecipientError("phone is empty", field="phone", value=value)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and not default_region:
        raise InvalidRecipientError(
            f"phone {value!r} has no country code; write it in E.164 (+<country><number>) "
            "or pass default_region",
            field="phone",
            value=value,
        )
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidRecipientError(
            f"phone {value!r} is not a phone number ({exc._msg})", field="phone", value=value
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidRecipientError(
            f"phone {value!r} is not a valid number", field="phone", value=value
        )
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
