"""Provider-neutral models: what a segment, a rule and a recipient are, whatever the platform.

All models are frozen pydantic v2 models. ``raw`` keeps the platform's object as received, so
nothing a provider said is lost; ``extra`` holds provider fields that have no neutral home.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .errors import InvalidRecipientError
from .identity import _fast_email, normalize_email, normalize_phone

__all__ = [
    "BulkResult",
    "Capability",
    "Channel",
    "ItemOutcome",
    "Match",
    "Operator",
    "OutcomeStatus",
    "Page",
    "Recipient",
    "Rule",
    "Segment",
    "SegmentKind",
    "SegmentQuery",
    "normalize_email",
    "normalize_phone",
]

Channel = Literal["sms", "email"]
Match = Literal["all", "any"]

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)


class SegmentKind(str, enum.Enum):
    """How membership is decided: ``static`` = an explicit member list, ``dynamic`` = rules the
    platform evaluates."""

    static = "static"
    dynamic = "dynamic"


class Operator(str, enum.Enum):
    """Neutral rule operators. ``other`` keeps a platform operator with no neutral equivalent
    (the original is in :attr:`Rule.native_operator`)."""

    equals = "equals"
    not_equals = "not_equals"
    contains = "contains"
    not_contains = "not_contains"
    starts_with = "starts_with"
    not_starts_with = "not_starts_with"
    ends_with = "ends_with"
    not_ends_with = "not_ends_with"
    greater_than = "greater_than"
    less_than = "less_than"
    before = "before"
    after = "after"
    between = "between"
    in_ = "in"
    other = "other"


class Capability(str, enum.Enum):
    """An operation a provider adapter implements. Derived from the adapter's overrides."""

    list_segments = "list_segments"
    get_segment = "get_segment"
    create_segment = "create_segment"
    update_segment = "update_segment"
    delete_segment = "delete_segment"
    list_recipients = "list_recipients"
    add_recipients = "add_recipients"
    remove_recipients = "remove_recipients"


def _aware(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC (every platform here speaks UTC); aware ones are
    converted to UTC."""
    if value is None or value.tzinfo is timezone.utc:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class Rule(BaseModel):
    """One condition of a dynamic segment: ``field operator values``."""

    model_config = _FROZEN

    field: str = Field(min_length=1)
    operator: Operator
    values: tuple[str, ...] = ()
    native_operator: str | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_strings(cls, v: Any) -> Any:
        if isinstance(v, str | int | float):
            return (str(v),)
        if isinstance(v, Iterable):
            return tuple(str(x) for x in v)
        return v

    @model_validator(mode="after")
    def _check_arity(self) -> Rule:
        if self.operator is Operator.between and len(self.values) != 2:
            raise ValueError(f"rule on {self.field!r}: 'between' takes two values")
        if self.operator is Operator.other and not self.native_operator:
            raise ValueError(f"rule on {self.field!r}: 'other' needs native_operator")
        return self


class Segment(BaseModel):
    """A named audience on one platform."""

    model_config = _FROZEN

    id: str
    provider: str
    name: str
    kind: SegmentKind
    provider_type: str | None = None
    rules: tuple[Rule, ...] = ()
    match: Match = "all"
    recipient_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return _aware(v)

    @classmethod
    def _trusted(
        cls,
        *,
        id: str,
        provider: str,
        name: str,
        kind: SegmentKind,
        provider_type: str | None = None,
        rules: tuple[Rule, ...] = (),
        match: Match = "all",
        recipient_count: int | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
    ) -> Segment:
        """Private: build a segment from values an adapter has already validated (wire model
        output), without validating them a second time.

        Every value is checked cheaply against what validation would produce; anything that
        does not already have its validated form (padded strings, naive or non-UTC datetimes
        aside, odd types) goes through full validation instead, so the result is always the
        model :class:`Segment` itself would build from the same arguments.
        """
        values: dict[str, Any] = {
            "id": id,
            "provider": provider,
            "name": name,
            "kind": kind,
            "provider_type": provider_type,
            "rules": rules,
            "match": match,
            "recipient_count": recipient_count,
            "created_at": created_at,
            "updated_at": updated_at,
            "extra": {} if extra is None else extra,
            "raw": {} if raw is None else raw,
        }
        # (_plain and _str_keys written out: this runs once per listed segment, issue 14)
        if (
            type(id) is str
            and id.strip() == id
            and type(provider) is str
            and provider.strip() == provider
            and type(name) is str
            and name.strip() == name
            and type(kind) is SegmentKind
            and (
                provider_type is None
                or (type(provider_type) is str and provider_type.strip() == provider_type)
            )
            and type(rules) is tuple
            and (not rules or all(type(r) is Rule for r in rules))
            and match in ("all", "any")
            and (recipient_count is None or type(recipient_count) is int)
            and (created_at is None or type(created_at) is datetime)
            and (updated_at is None or type(updated_at) is datetime)
            and type(values["extra"]) is dict
            and _ONLY_STR.issuperset(map(type, values["extra"]))
            and type(values["raw"]) is dict
            and _ONLY_STR.issuperset(map(type, values["raw"]))
        ):
            values["created_at"] = _aware(created_at)
            values["updated_at"] = _aware(updated_at)
            return _assemble(cls, values)
        return cls(**values)


def _plain(value: object) -> bool:
    """A ``str`` that whitespace stripping leaves unchanged (``str.strip`` removes every
    character pydantic-core's trim removes, and a few more: those go the full way)."""
    return type(value) is str and value.strip() == value


def _plain_or_blank(value: object) -> bool:
    """``None``, or a non-empty :func:`_plain` string."""
    return value is None or (_plain(value) and value != "")


def _str_keys(value: object) -> bool:
    """A ``dict`` whose keys are all exactly ``str`` (validation makes subclasses ``str``)."""
    return type(value) is dict and _ONLY_STR.issuperset(map(type, value))


_ONLY_STR = frozenset({str})


_COUNTRY = re.compile(r"^[A-Z]{2}$")


_RECIPIENT_KEYS = frozenset(
    {"id", "email", "phone", "first_name", "last_name", "name", "country", "attributes", "raw"}
)


class Recipient(BaseModel):
    """One member of a segment. At least one of ``email``, ``phone`` or ``id`` is set.

    ``phone`` is normalised to E.164 and ``email`` syntax-checked when the model is built, so a
    ``Recipient`` that exists is valid. To accept national phone numbers pass a default region
    through :meth:`parse`.
    """

    model_config = _FROZEN

    id: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    country: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _fold_extra_keys(cls, data: Any) -> Any:
        # Plain records (csv.DictReader rows): header spellings -> fields, other keys ->
        # string attributes (segmentkit.io.fold_extra_keys), instead of "extra inputs".
        if isinstance(data, dict) and not data.keys() <= _RECIPIENT_KEYS:
            from .io import fold_extra_keys

            return fold_extra_keys(data)
        return data

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @field_validator("id", "email", "phone", "first_name", "last_name", "name", "country")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v if v else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        region = (info.context or {}).get("default_region")
        return normalize_phone(v, region)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return None if v is None else normalize_email(v)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return None
        code = v.upper()
        if not _COUNTRY.match(code):
            raise InvalidRecipientError(
                f"country {v!r} is not an ISO 3166 alpha-2 code", field="country", value=v
            )
        return code

    @field_validator("attributes", mode="before")
    @classmethod
    def _attrs_as_strings(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): "" if x is None else str(x) for k, x in v.items()}
        return v

    @model_validator(mode="after")
    def _has_identity(self) -> Recipient:
        if not (self.email or self.phone or self.id):
            raise InvalidRecipientError("recipient has no email, phone or id", field=None)
        return self

    @classmethod
    def _trusted(
        cls,
        *,
        id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        name: str | None = None,
        country: str | None = None,
        attributes: dict[str, str] | None = None,
        raw: dict[str, Any] | None = None,
    ) -> Recipient:
        """Private: build a recipient from values an adapter has already normalised
        (``email`` from :func:`normalize_email`, ``phone`` from :func:`normalize_phone`,
        blanks as ``None``), without running the validators a second time.

        The cheap parts of validation (stripping, blank → ``None``, the country code, string
        attributes, an identity present) are checked here; whatever does not already have its
        validated form goes through full validation instead, which also raises the usual
        :class:`InvalidRecipientError`. ``email``/``phone`` are trusted to be normalised:
        pass only values that came out of the normalisers.
        """
        # Blank is None, as the field validator says.
        id = None if id == "" else id
        email = None if email == "" else email
        phone = None if phone == "" else phone
        first_name = None if first_name == "" else first_name
        last_name = None if last_name == "" else last_name
        name = None if name == "" else name
        attrs = {} if attributes is None else attributes
        raw = {} if raw is None else raw
        values: dict[str, Any] = {
            "id": id,
            "email": email,
            "phone": phone,
            "first_name": first_name,
            "last_name": last_name,
            "name": name,
            "country": country,
            "attributes": attrs,
            "raw": raw,
        }
        # (_plain_or_blank, _plain and _str_keys written out: this runs once per listed
        # member, issue 14; no value is "" any more)
        if (
            (email or phone or id)
            and (id is None or (type(id) is str and id.strip() == id))
            and (email is None or (type(email) is str and email.strip() == email))
            and (phone is None or (type(phone) is str and phone.strip() == phone))
            and (
                first_name is None or (type(first_name) is str and first_name.strip() == first_name)
            )
            and (last_name is None or (type(last_name) is str and last_name.strip() == last_name))
            and (name is None or (type(name) is str and name.strip() == name))
            and (country is None or (type(country) is str and _COUNTRY.match(country)))
            and type(attrs) is dict
            and (not attrs or all(_plain(k) and _plain(v) for k, v in attrs.items()))
            and type(raw) is dict
            and _ONLY_STR.issuperset(map(type, raw))
        ):
            return _assemble(cls, values)
        return cls(**values)

    @classmethod
    def parse(cls, data: Any, *, default_region: str | None = None) -> Recipient:
        """Build a recipient from a mapping, a ``Recipient``, or a bare email/phone string.

        Raises :class:`InvalidRecipientError` naming the bad field and value.
        """
        if isinstance(data, Recipient):
            return data
        if type(data) is str and cls is Recipient:
            value = _bare_value(data, default_region)
            if value is not None:
                return _bare_recipient("email" if "@" in value else "phone", value)
        if isinstance(data, str):
            data = {"email": data} if "@" in data else {"phone": data}
        if not isinstance(data, Mapping):
            raise InvalidRecipientError(
                f"cannot make a recipient from {type(data).__name__}", value=data
            )
        try:
            return cls.model_validate(dict(data), context={"default_region": default_region})
        except InvalidRecipientError:
            raise
        except Exception as exc:  # pydantic wraps validator errors; unwrap ours
            cause = _find_invalid_recipient(exc)
            if cause is not None:
                raise cause from None
            raise InvalidRecipientError(_first_pydantic_error(exc), value=data) from None

    @property
    def display_name(self) -> str:
        """``name``, else ``first_name last_name``, else the identity."""
        if self.name:
            return self.name
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email or self.phone or self.id or ""

    def identity(self, channel: Channel) -> str | None:
        """The key that identifies this recipient on ``channel`` (E.164 phone or normalised
        email), or ``None`` when it has none."""
        if channel == "sms":
            return self.phone
        return self.email.lower() if self.email else None


_RECIPIENT_DEFAULTS: dict[str, Any] = {
    "id": None,
    "email": None,
    "phone": None,
    "first_name": None,
    "last_name": None,
    "name": None,
    "country": None,
}


_M = TypeVar("_M", bound=BaseModel)

#: Per model class: whether :func:`_assemble` may fill it in directly (see there).
_DIRECT: dict[type[BaseModel], bool] = {}
_set = object.__setattr__


def _direct(cls: type[BaseModel], values: Mapping[str, Any]) -> bool:
    """Whether an instance of ``cls`` is fully described by its field values: ``values``
    names every field in declaration order, and there is no post-init hook, no private
    attribute, no extra field and no root model to set up."""
    ok = _DIRECT.get(cls)
    if ok is None:
        ok = _DIRECT[cls] = (
            list(cls.__pydantic_fields__) == list(values)
            and not cls.__pydantic_post_init__
            and not cls.__private_attributes__
            and not cls.__pydantic_root_model__
            and cls.model_config.get("extra") != "allow"
        )
    return ok


def _assemble(cls: type[_M], values: dict[str, Any], fields_set: set[str] | None = None) -> _M:
    """An instance of ``cls`` holding ``values`` (already in validated form, one per field
    in declaration order), set up exactly as pydantic sets up a validated one: ``__dict__``
    = the values, ``__pydantic_fields_set__`` = ``fields_set`` (default: every field),
    ``__pydantic_extra__`` and ``__pydantic_private__`` = ``None``.

    ``model_construct`` does the same through a per-field Python loop (aliases, defaults)
    that cost ~25 µs a segment, more than validating it (issue 14); a class this does not
    describe (see :func:`_direct`) still goes through ``model_construct``.
    ``tests/core/test_models.py`` checks the result against validation: equality, dumps,
    copies, pickling, frozen-ness.
    """
    direct = _DIRECT.get(cls)
    if direct is None:
        direct = _direct(cls, values)
    if not direct:
        return cls.model_construct(fields_set, **values)
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def _bare_value(data: str, default_region: str | None) -> str | None:
    """What ``Recipient.parse(data)`` of a bare address or number holds: the normalised
    e-mail (``data`` has an ``@``) or E.164 phone, or :class:`InvalidRecipientError` as the
    validated path raises it; ``None`` when the validated path must decide.

    For a non-blank :func:`_plain` ``str`` exactly one validator would run (stripping and
    blank-to-``None`` are no-ops on it), so calling the normaliser here is the same check
    without pydantic's machinery. Errors are the normaliser's own, as the full path unwraps
    them too; anything else goes the full way, which words it the same way.
    """
    if not (data and _plain(data)):
        return None
    try:
        if "@" in data:
            fast = _fast_email(data)  # normalize_email without its str()/strip()
            return normalize_email(data) if fast is None else fast
        return normalize_phone(data, default_region)
    except InvalidRecipientError:
        raise
    except Exception:
        return None


def _bare_recipient(field: str, value: str) -> Recipient:
    """A ``Recipient`` holding only ``field`` (``"email"``/``"phone"``) = ``value``, a value
    that came out of its normaliser: what ``Recipient(**{field: value})`` builds (the hot
    path of a 100k sync plan, issue 14)."""
    values = dict(_RECIPIENT_DEFAULTS)
    values[field] = value
    values["attributes"] = {}
    values["raw"] = {}
    return _assemble(Recipient, values, {field})


def _find_invalid_recipient(exc: BaseException) -> InvalidRecipientError | None:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        for err in errors():
            ctx = err.get("ctx") or {}
            inner = ctx.get("error")
            if isinstance(inner, InvalidRecipientError):
                return inner
    return None


def _first_pydantic_error(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        errs = errors()
        if errs:
            loc = ".".join(str(p) for p in errs[0].get("loc", ())) or "recipient"
            return f"{loc}: {errs[0].get('msg', 'invalid')}"
    return str(exc)


class OutcomeStatus(str, enum.Enum):
    """What happened to one item of a bulk operation."""

    added = "added"
    removed = "removed"
    unchanged = "unchanged"
    rejected = "rejected"
    failed = "failed"


class ItemOutcome(BaseModel):
    """The outcome for one input item of a bulk call. ``index`` is its position in the input;
    ``reason`` says why for ``unchanged``/``rejected``/``failed``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    index: int
    status: OutcomeStatus
    recipient: Recipient | None = None
    reason: str | None = None
    input: Any = Field(default=None, repr=False)
    attempts: int = 0


class BulkResult(BaseModel):
    """One :class:`ItemOutcome` per input item, in input order, plus counts. Never a bare
    bool: check :attr:`ok`, or iterate :attr:`failed` / :attr:`rejected`."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    items: tuple[ItemOutcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Number of items per status (every status present, zero when absent)."""
        c = Counter(i.status.value for i in self.items)
        return {s.value: c.get(s.value, 0) for s in OutcomeStatus}

    @property
    def ok(self) -> bool:
        """True when nothing was rejected or failed."""
        return not any(
            i.status in (OutcomeStatus.rejected, OutcomeStatus.failed) for i in self.items
        )

    def with_status(self, *statuses: OutcomeStatus) -> list[ItemOutcome]:
        """The outcomes with any of ``statuses``."""
        return [i for i in self.items if i.status in statuses]

    @property
    def failed(self) -> list[ItemOutcome]:
        """Items whose write did not succeed after retries (with the cause in ``reason``)."""
        return self.with_status(OutcomeStatus.failed)

    @property
    def rejected(self) -> list[ItemOutcome]:
        """Items refused before any request (invalid input) or by the platform's validation."""
        return self.with_status(OutcomeStatus.rejected)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ItemOutcome]:  # type: ignore[override]
        return iter(self.items)

    def summary(self) -> str:
        """A one-line human summary, e.g. ``added 3, unchanged 1, rejected 1``."""
        return ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "nothing to do"


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing. ``next_page`` is an opaque token for the next call, ``None`` on
    the last page. ``page``, ``total_pages`` and ``total`` are set when the platform says."""

    items: Sequence[T]
    next_page: Any = None
    page: int | None = None
    total_pages: int | None = None
    total: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


OrderField = Literal["id", "name", "created_at", "updated_at", "recipient_count"]


class SegmentQuery(BaseModel):
    """What ``segments.list()`` asks for. Adapters send what the platform can filter and must
    return only matching segments; :meth:`apply` is the reference (client-side) semantics.

    * ``search``: case-insensitive substring of the name.
    * ``provider_type``: the platform's own type (``bulk``/``custom``/``filter``…).
    * ``created_after``/``created_before``/``updated_after``/``updated_before``: inclusive.
    * ``order_by`` + ``descending``; ``page_size`` (``None`` = the provider's largest).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    search: str | None = None
    provider_type: str | None = None
    kind: SegmentKind | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    order_by: OrderField | None = None
    descending: bool = False
    page_size: int | None = Field(default=None, ge=1)

    @field_validator("created_after", "created_before", "updated_after", "updated_before")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return _aware(v)

    @property
    def has_filters(self) -> bool:
        """True when any filter (not ordering) is set."""
        return any(
            v is not None
            for v in (
                self.search,
                self.provider_type,
                self.kind,
                self.created_after,
                self.created_before,
                self.updated_after,
                self.updated_before,
            )
        )

    def matches(self, seg: Segment) -> bool:
        """Whether ``seg`` satisfies every filter of this query."""
        if self.search and self.search.casefold() not in seg.name.casefold():
            return False
        if self.provider_type and (seg.provider_type or "") != self.provider_type:
            return False
        if self.kind is not None and seg.kind is not self.kind:
            return False
        if (
            self.created_after is None
            and self.created_before is None
            and self.updated_after is None
            and self.updated_before is None
        ):
            return True
        for bound, value, after in (
            (self.created_after, seg.created_at, True),
            (self.created_before, seg.created_at, False),
            (self.updated_after, seg.updated_at, True),
            (self.updated_before, seg.updated_at, False),
        ):
            if bound is None:
                continue
            if value is None or (value < bound if after else value > bound):
                return False
        return True

    def sort_key(self, seg: Segment) -> tuple[Any, ...]:
        """Sort key for ``order_by`` (missing values first), ties broken by numeric id."""
        tie = _id_key(seg.id)
        if self.order_by is None or self.order_by == "id":
            return (tie,)
        value: Any = getattr(seg, self.order_by)
        if isinstance(value, str):
            value = value.casefold()
        return (value is not None, value if value is not None else 0, tie)

    def apply(self, segments: Iterable[Segment]) -> list[Segment]:
        """Filter and order ``segments`` client-side with the reference semantics."""
        kept = [s for s in segments if self.matches(s)] if self.has_filters else list(segments)
        if self.order_by is not None:
            kept.sort(key=self.sort_key, reverse=self.descending)
        return kept


def _id_key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)
