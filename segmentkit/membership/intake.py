"""The one intake of user input: validation and de-duplication, under one policy.

Replaces ``Client._bulk``/``_coerce``/``_strict_recipients`` and ``sync._validate`` of 0.1.0,
which had three duplicate policies. Here:

* a ``str``, ``bytes`` or mapping (or a single ``Recipient``) where a *collection* of
  recipients is expected, or anything not iterable, raises :class:`InvalidRecipientError`
  before any request (``sync(sid, "+39333…")`` would otherwise be iterated per character);
* each bad item (``None``, a float, an unparsable string, an id with characters no platform
  uses such as the Unicode digit ``"²"``) becomes one ``rejected`` outcome with the reason,
  and the other items proceed;
* a repeat of an earlier item's identity is ``unchanged`` ("duplicate of item N");
* for each rejected item the identities it still *names* (an e-mail, the digits of a phone
  written without country code, a raw id) are kept as :attr:`Admission.hints`, so a sync never
  removes a member that a rejected row was meant to keep (issue 12 §1).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidRecipientError
from ..models import (
    Channel,
    ItemOutcome,
    OutcomeStatus,
    Recipient,
    _bare_recipient,
    _bare_value,
    normalize_email,
)

__all__ = ["IDENTITY_NAME", "Admission", "Policy", "admit", "as_items", "strict"]

#: What each channel identifies recipients by, in words.
IDENTITY_NAME = {"sms": "phone number (E.164)", "email": "email address"}
_FIELD = {"sms": "phone", "email": "email"}
#: Provider ids are short ASCII tokens; anything else ("²", spaces, control characters) is
#: refused here instead of breaking an adapter's ``int()`` mid-batch.
_ID = re.compile(r"[A-Za-z0-9_.:@+\-]{1,128}")
_DIGITS = re.compile(r"\d")
_PHONEISH = re.compile(r"[\d\s()+./-]+")


@dataclass(frozen=True)
class Policy:
    """How to admit items.

    ``mode``: ``"add"`` (identity needed unless ``accepts_ids``), ``"remove"`` (ids and
    digit strings are ids), ``"desired"`` (a sync's wanted state: channel identity needed).
    ``problem`` is the adapter's :meth:`~segmentkit.provider.Provider.recipient_problem`,
    asked in ``"add"`` mode only. ``strict`` raises on the first bad item instead of
    rejecting it (``segments.create/update``).
    """

    channel: Channel
    provider: str
    mode: Literal["add", "remove", "desired"] = "add"
    default_region: str | None = None
    accepts_ids: bool = False
    problem: Callable[[Recipient], str | None] | None = None
    strict: bool = False


@dataclass
class Admission:
    """The result of :func:`admit`: the valid, unique recipients (``valid[k]`` came from input
    position ``origin[k]`` and is keyed ``keys[k]``: its channel identity, else ``id:<id>``),
    the outcome already settled for every other position, and per rejected position the
    identities it still names.

    In ``"desired"`` mode a bare address or number is kept as its normalised value and made a
    :class:`Recipient` only when asked for (:meth:`recipient`, or :attr:`valid` for all): a
    sync plan needs the recipient of an item only when it is to be added, and not building
    100,000 models it never uses is most of its speed (issue 14).
    """

    items: list[Any]
    origin: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    outcomes: dict[int, ItemOutcome] = field(default_factory=dict)
    hints: dict[int, frozenset[str]] = field(default_factory=dict)
    #: ``valid``, where a ``str`` is the normalised value of a bare item not built yet.
    pending: list[Recipient | str] = field(default_factory=list, repr=False)
    #: How many entries of :attr:`pending` are still bare values.
    unbuilt: int = field(default=0, repr=False)

    def recipient(self, pos: int) -> Recipient:
        """``valid[pos]``, built (once) if it is still a bare value."""
        r = self.pending[pos]
        if type(r) is str:
            r = self.pending[pos] = _bare_recipient("email" if "@" in r else "phone", r)
            self.unbuilt -= 1
        return r  # type: ignore[return-value]

    @property
    def valid(self) -> list[Recipient]:
        """Every valid, unique recipient, in input order (built once: reading it in a loop
        costs nothing more)."""
        if self.unbuilt:
            for pos in range(len(self.pending)):
                self.recipient(pos)
        return self.pending  # type: ignore[return-value]


def as_items(items: Any, what: str = "recipients") -> list[Any]:
    """``items`` as a list, refusing a lone string, bytes, mapping or ``Recipient`` (which
    would be iterated per character or per field) and anything not iterable."""
    if isinstance(items, str | bytes | bytearray | memoryview | Mapping | Recipient):
        raise InvalidRecipientError(
            f"{what} must be a collection of recipients (a list, tuple, set or generator), "
            f"not a single {type(items).__name__}; wrap one recipient in a list",
            value=type(items).__name__,
        )
    if not isinstance(items, Iterable):
        raise InvalidRecipientError(
            f"{what} must be a collection of recipients, not {type(items).__name__}",
            value=type(items).__name__,
        )
    return list(items)


def _id_of(item: Any, policy: Policy) -> str | None:
    """The provider id an item stands for, when it is an id (not a phone or e-mail)."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str) and policy.mode == "remove":
        text = item.strip()
        if text and text.isdigit():
            return text
    return None


def _hints(item: Any, r: Recipient | None) -> frozenset[str]:
    """Identities a (rejected) item still names: valid e-mails lower-cased, ``#<digits>`` for
    a phone written without country code (six digits or more), ``id:<id>`` for ids. A value
    that is none of these (an invalid e-mail, free text) names nothing provable."""
    out: set[str] = set()

    def text(value: Any, as_id: bool) -> None:
        if isinstance(value, bool) or value is None:
            return
        s = str(value).strip()
        if not s:
            return
        if "@" in s:
            with contextlib.suppress(InvalidRecipientError):
                out.add(normalize_email(s).lower())
            return
        if _PHONEISH.fullmatch(s):
            digits = "".join(_DIGITS.findall(s))
            if len(digits) >= 6 and digits.isascii():
                out.add("#" + digits)
        if (as_id or (s.isascii() and s.isdigit())) and _ID.fullmatch(s):
            out.add("id:" + s)

    if r is not None:
        text(r.email, False)
        text(r.phone, False)
        text(r.id, True)
    elif isinstance(item, Mapping):
        for key in ("email", "phone", "msisdn", "phone_number"):
            text(item.get(key), False)
        text(item.get("id"), True)
    elif isinstance(item, str | int):
        text(item, False)
    return frozenset(out)


def _reject(
    adm: Admission,
    i: int,
    item: Any,
    reason: str,
    r: Recipient | None,
    policy: Policy,
    error: InvalidRecipientError | None = None,
) -> None:
    if policy.strict:
        raise InvalidRecipientError(
            f"recipient #{i}: {reason}",
            field=error.field if error is not None else _FIELD[policy.channel],
            value=error.value if error is not None else None,
        )
    adm.outcomes[i] = ItemOutcome(
        index=i, status=OutcomeStatus.rejected, reason=reason, recipient=r, input=item
    )
    adm.hints[i] = _hints(item, r)


def _duplicate(adm: Admission, i: int, item: Any, r: Recipient, first: int) -> None:
    adm.outcomes[i] = ItemOutcome(
        index=i,
        status=OutcomeStatus.unchanged,
        recipient=r,
        input=item,
        reason=f"duplicate of item {first}",
    )


def admit(items: Any, policy: Policy) -> Admission:
    """Validate and de-duplicate ``items`` (see the module docstring). No requests.

    One pass; each item is validated once and keyed by its identity string (kept in
    :attr:`Admission.keys`, so a plan never derives it again)."""
    listed = as_items(items)
    adm = Admission(items=listed)
    seen: dict[str, int] = {}
    channel = policy.channel
    email_channel = channel == "email"
    region = policy.default_region
    removing = policy.mode == "remove"
    ids_ok = removing or (policy.mode == "add" and policy.accepts_ids)
    ask = policy.problem if policy.mode == "add" else None
    parse = Recipient.parse
    defer = policy.mode == "desired" and not policy.strict
    valid, origin, keys = adm.pending, adm.origin, adm.keys
    for i, item in enumerate(listed):
        r: Recipient | None = None
        if defer and type(item) is str:
            # A bare address or number of the channel's kind: keyed by its normalised value,
            # made a Recipient only when asked (Admission.recipient). The checks are the
            # ones below, for an item with no id and no adapter to ask (desired mode).
            try:
                value = _bare_value(item, region)
            except InvalidRecipientError as exc:
                _reject(adm, i, item, exc.reason, None, policy, exc)
                continue
            if value is not None and ("@" in value) is email_channel:
                key = value.lower() if email_channel else value
                first = seen.setdefault(key, i)
                if first != i:
                    _duplicate(adm, i, item, parse(item, default_region=region), first)
                    continue
                valid.append(value)
                origin.append(i)
                keys.append(key)
                adm.unbuilt += 1
                continue
            # Not decided here (or not the channel's identity): the general path says why.
        if type(item) is str and not removing:
            # The common case (a bare address or number): no id to consider.
            ident_id = None
        elif item is None or isinstance(item, bool | float | complex):
            _reject(adm, i, item, f"not a recipient: {type(item).__name__}", None, policy)
            continue
        else:
            ident_id = _id_of(item, policy)
        try:
            if ident_id is not None:
                if not _ID.fullmatch(ident_id) or not ident_id.isascii():
                    raise InvalidRecipientError(f"id {ident_id!r} is not a valid id", field="id")
                r = Recipient(id=ident_id)
            else:
                r = parse(item, default_region=region)
        except InvalidRecipientError as exc:
            _reject(adm, i, item, exc.reason, None, policy, exc)
            continue
        except Exception as exc:
            _reject(adm, i, item, f"not a recipient: {type(exc).__name__}", None, policy)
            continue
        rid = r.id
        if rid is not None and not (_ID.fullmatch(rid) and rid.isascii()):
            _reject(adm, i, item, f"id {rid!r} is not a valid id", r, policy)
            continue
        if email_channel:  # Recipient.identity, inline (the hot loop of a 100k plan)
            email = r.email
            ident = email.lower() if email else None
        else:
            ident = r.phone
        if ident is None and not (ids_ok and rid):
            _reject(
                adm,
                i,
                item,
                f"no {IDENTITY_NAME[channel]}, which {policy.provider} needs",
                r,
                policy,
            )
            continue
        if ask is not None:
            problem = ask(r)
            if problem:
                _reject(adm, i, item, problem, r, policy)
                continue
        key = ident or f"id:{rid}"
        first = seen.setdefault(key, i)
        if first != i:
            _duplicate(adm, i, item, r, first)
            continue
        valid.append(r)
        origin.append(i)
        keys.append(key)
    return adm


def strict(items: Iterable[Any], policy: Policy) -> Sequence[Recipient]:
    """Every item valid, or :class:`InvalidRecipientError` naming the first bad one."""
    from dataclasses import replace

    return admit(items, replace(policy, strict=True)).valid
