"""Reusable pieces for adapters' wire models and rule translation.

Platforms written in PHP and similar stacks share a few habits an adapter otherwise re-derives
each time; these helpers name them once:

* :class:`WireModel` — a pydantic base that ignores fields the platform adds later;
* :func:`php_object` — PHP's ``json_encode`` writes an empty array as ``[]`` where an object
  is meant, and some builds store nested objects as JSON text;
* :func:`utc_datetime` — ``"Y-m-d H:i:s"`` timestamps in UTC (``0000-…`` and blanks = unset);
* :func:`json_list` — a list sent as a list, as a JSON string, as a PHP array with gaps
  (an object keyed by index), or as ``null``;
* :func:`string_list` — a list of strings that may arrive as JSON text, a bare scalar or
  ``null``;
* :func:`unescape_html` — text a PHP platform stored through ``htmlspecialchars``, as typed;
* :func:`validate_items` — a page of items validated in one call (pydantic-core loops), or
  each mapped as soon as it is validated (``into=``), a bad item reported by its position;
* :func:`profile_fields` — free-form contact attributes split into the neutral profile fields
  and the rest;
* :func:`phone_entry` — a stored phone number as a member key: E.164 when it is valid, else
  as stored; :func:`phone_key` its key alone, :func:`phone_keys` — a stored list of them,
  de-duplicated in order; :func:`has_profile` — whether a recipient carries more than that;
* :func:`indexed_fields` — parallel PHP form arrays (``key[0]``, ``value[0]``, ``key[1]`` …);
* :func:`compare` — a one-value rule evaluated client-side the way a SQL platform does
  (case-sensitive text, :func:`sql_number` numbers);
* :class:`RuleDialect` — which neutral :class:`~segmentkit.models.Rule` operators and fields a
  platform can express, with its limits; :meth:`RuleDialect.to_native` raises
  :class:`~segmentkit.errors.UnsupportedOperationError` naming the rule *before* any request,
  :meth:`RuleDialect.from_native` maps stored conditions back, :meth:`RuleDialect.from_arrays`
  whole lists of them stored as parallel arrays (PHP form fields); :class:`CodeList` declares
  rule fields stored as lists of codes (``country in [IT, FR]``), :meth:`RuleDialect.split`
  and :meth:`RuleDialect.from_lists` translate them.

Use them as ``field_validator(..., mode="before")`` bodies, or through the ready-made
``Annotated`` markers :data:`AS_OBJECT`, :data:`AS_LIST`, :data:`AS_UTC`, :data:`AS_TEXT`,
:data:`AS_FLAG` (each a :class:`Before`: the common input is validated in pydantic-core with
no Python call, and :func:`problem` reads a validation error through them)::

    class WireSegment(WireModel):
        settings: Annotated[WireSettings, AS_OBJECT]
        created: Annotated[datetime | None, AS_UTC] = None
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar, overload

import pydantic
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, TypeAdapter
from pydantic_core import CoreSchema, core_schema

from ..errors import InvalidRecipientError, UnexpectedResponseError, UnsupportedOperationError
from ..models import Match, Operator, Recipient, Rule, normalize_email, normalize_phone

__all__ = [
    "AS_FLAG",
    "AS_LIST",
    "AS_OBJECT",
    "AS_TEXT",
    "AS_UTC",
    "PROFILE_KEYS",
    "Before",
    "CodeList",
    "NativeRule",
    "RuleDialect",
    "WireModel",
    "compare",
    "has_profile",
    "indexed_fields",
    "json_list",
    "lax_flag",
    "lax_text",
    "phone_entry",
    "phone_key",
    "phone_keys",
    "php_object",
    "problem",
    "profile_fields",
    "sql_number",
    "string_list",
    "unescape_html",
    "utc_datetime",
    "validate_items",
]

_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"[A-Z]{2}")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class WireModel(BaseModel):
    """Base for wire models: unknown fields are ignored (platforms add fields without
    notice), values are validated in pydantic's lax mode (``"12"`` → ``12``)."""

    model_config = ConfigDict(extra="ignore")


def php_object(value: Any) -> Any:
    """An object field as PHP sends it → a mapping (or the value unchanged).

    ``[]`` and ``null`` → ``{}`` (``json_encode`` of an empty PHP array); a JSON string →
    its decoded value (builds that store the object as text); a blank string → ``{}``.
    """
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if value is None or (isinstance(value, list) and not value):
        return {}
    return value


def json_list(value: Any) -> Any:
    """A list field → a list: ``null`` and blank strings → ``[]``, a JSON string → its decoded
    value, an object keyed by index (a PHP array with gaps) → its values in order."""
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if isinstance(value, Mapping):
        return list(value.values())
    return value


def string_list(value: Any) -> list[str]:
    """A list of strings → ``list[str]``, however a PHP platform sent it: a list (``null``
    items → ``""``, other items as text), a JSON-encoded list in a string, ``null`` → ``[]``;
    any other value (a bare scalar, text that is not a JSON list) is a one-item list."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return [value]
        if not isinstance(decoded, list):
            return [value]
        value = decoded
    if isinstance(value, list):
        return ["" if v is None else str(v) for v in value]
    return [str(value)]


def unescape_html(text: str | None) -> str | None:
    """Text a platform stored through PHP's ``htmlspecialchars`` (escaping input on save, so
    ``Smith & Co`` is listed back as ``Smith &amp; Co``) → the text as it was typed. Keep the
    stored form in the model's ``raw``."""
    return html.unescape(text) if text and "&" in text else text


def utc_datetime(value: Any) -> datetime | None:
    """``"Y-m-d H:i:s"`` in UTC (also ISO 8601 with ``Z`` or an offset) → an aware
    :class:`datetime`; ``None``, ``""`` and MySQL zero dates (``0000-…``) → ``None``. A naive
    :class:`datetime` is taken as UTC."""
    if value is None or value == "" or (isinstance(value, str) and value.startswith("0000")):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # fromisoformat reads "Y-m-d H:i:s" directly and is far faster than strptime.
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def lax_text(value: Any) -> Any:
    """A text field sent as a number (PHP) or ``null`` → its text (``null`` → ``""``)."""
    return "" if value is None else str(value) if isinstance(value, int | float) else value


def lax_flag(value: Any) -> Any:
    """A boolean field sent as ``null`` or ``""`` (PHP's unset flag) → ``False``; other values
    are left to pydantic's lax bool (``0``/``1``, ``"0"``/``"1"``, ``true``/``false``)."""
    return False if value is None or value == "" else value


def _stamp_utc(text: str) -> datetime:
    # What utc_datetime gives for a "Y-m-d H:i:s" text; ~6x cheaper than .replace(tzinfo=…)
    # on CPython 3.11 (fromisoformat of an offset of zero gives timezone.utc itself).
    return datetime.fromisoformat(text + "+00:00")


#: The tags of a :class:`Before` union's two branches, as they appear in an error's location
#: (angle brackets: no field is named so).
_FAST = "<fast>"
_FULL = "<full>"

#: The form every platform here sends timestamps in: ``Y-m-d H:i:s``, no zone (UTC).
_STAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


@dataclass(frozen=True)
class Before:
    """An ``Annotated`` marker: ``func`` before the field is validated (like pydantic's
    :class:`~pydantic.BeforeValidator`), behind a native fast path.

    ``fast(inner)`` builds, from the field's own core schema, a schema that accepts only
    inputs ``func`` leaves as they are (or, for :data:`AS_UTC`, the one common timestamp
    form) and gives for them exactly what ``func`` + validation gives; ``None`` when the
    field's type has no such path. It runs in pydantic-core with no Python call; every
    other input takes ``func``, unchanged (issue 14: a page of items costs one Rust loop,
    not a Python call per field). ``tests/core/test_wire_fast.py`` checks both paths give
    the same verdict and value over generated inputs. The two are a left-to-right union
    tagged ``<fast>``/``<full>``: :func:`problem` reports the full branch's error only, as
    if there were no fast path.
    """

    func: Callable[[Any], Any]
    fast: Callable[[CoreSchema], CoreSchema | None]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        inner = handler(source)
        full = core_schema.no_info_before_validator_function(self.func, inner)
        fast = self.fast(inner)
        if fast is None:
            return full
        return core_schema.union_schema([(fast, _FAST), (full, _FULL)], mode="left_to_right")


def _given_as(container: type, kind: str, inner: CoreSchema) -> CoreSchema:
    # The input is a ``container`` (``kind`` is its schema type): the function would return
    # it as it is, so the field's own schema validates it directly. A field of that very
    # type takes ``strict``, which checks the container only (items and values keep their
    # own, lax, validation); any other field is reached through an instance check.
    if inner["type"] == kind:
        return {**inner, "strict": True}
    return core_schema.chain_schema([core_schema.is_instance_schema(container), inner])


def _object_fast(inner: CoreSchema) -> CoreSchema:
    # php_object returns a dict as it is (empty or not).
    return _given_as(dict, "dict", inner)


def _list_fast(inner: CoreSchema) -> CoreSchema:
    # json_list returns a list as it is.
    return _given_as(list, "list", inner)


def _text_fast(inner: CoreSchema) -> CoreSchema:
    # lax_text returns a str as it is.
    return _given_as(str, "str", inner)


def _utc_fast(inner: CoreSchema) -> CoreSchema | None:
    # A "Y-m-d H:i:s" text read as UTC: what utc_datetime gives for it; None stays native when
    # the field is nullable. Anything else (zero dates, other forms, bad dates): the full path.
    nullable = inner["type"] == "nullable"
    base: Any = inner["schema"] if nullable else inner
    if base["type"] != "datetime":
        return None
    stamp = core_schema.str_schema(strict=True, pattern=_STAMP)
    read = core_schema.no_info_plain_validator_function(_stamp_utc)
    fast = core_schema.chain_schema([stamp, read, base])
    return core_schema.nullable_schema(fast) if nullable else fast


def _flag_fast(inner: CoreSchema) -> CoreSchema | None:
    # lax_flag changes only None and "", which a (lax) bool rejects.
    return inner if inner["type"] == "bool" else None


#: ``Annotated`` markers applying :func:`php_object`, :func:`json_list`, :func:`utc_datetime`,
#: :func:`lax_text` and :func:`lax_flag` before a field is validated (see :class:`Before`).
AS_OBJECT = Before(php_object, _object_fast)
AS_LIST = Before(json_list, _list_fast)
AS_UTC = Before(utc_datetime, _utc_fast)
AS_TEXT = Before(lax_text, _text_fast)
AS_FLAG = Before(lax_flag, _flag_fast)


@dataclass(frozen=True)
class NativeRule:
    """One rule in a platform's terms: ``field`` compared with ``condition`` to ``value``."""

    field: str
    condition: str
    value: str


@dataclass(frozen=True)
class CodeList:
    """A rule field the platform stores as a list of two-letter codes instead of a condition
    (e.g. a contact's country): ``native`` names the stored list, ``codes`` the accepted codes
    (``None``: any ISO 3166 alpha-2 shaped code). Its rules take ``in``/``equals``."""

    native: str
    codes: frozenset[str] | None = None


@dataclass(frozen=True)
class RuleDialect:
    """What a platform's dynamic segments can say, declared once.

    * ``operators`` — neutral operator → the platform's condition name; a rule with
      :attr:`Operator.other` may name a native condition directly (``native_operator``) when
      it is one of these values; ``in`` with one value is taken as ``equals``;
    * ``fields`` — when given, the only field names accepted (compared case-insensitively);
      ``None`` accepts any field (custom parameters);
    * ``any_of`` — whether several rules may be ORed (``match="any"``);
    * ``max_rules``, ``key_max``, ``value_max`` — the platform's limits (``None``: none);
    * ``name`` — the platform, for messages; ``reference`` — where the rules are documented;
    * ``fold`` — stored conditions are matched ignoring case and runs of spaces (for
      platforms whose conditions are labels typed in a web UI, e.g. ``"Is  After"``);
    * ``lists`` — rule field (lower case) → :class:`CodeList`, for fields stored as code lists
      (:meth:`split`, :meth:`from_lists`).

    Each rule compares one field with one value; rules the table cannot express raise
    :class:`UnsupportedOperationError` naming the rule, before any request.
    """

    name: str
    operators: Mapping[Operator, str]
    fields: frozenset[str] | None = None
    any_of: bool = False
    max_rules: int | None = None
    key_max: int | None = None
    value_max: int | None = None
    reference: str = ""
    fold: bool = False
    lists: Mapping[str, CodeList] = field(default_factory=dict)
    _conditions: Mapping[str, Operator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        conditions = {self._folded(v): k for k, v in self.operators.items()}
        object.__setattr__(self, "_conditions", conditions)

    def _folded(self, condition: str) -> str:
        return _SPACES.sub(" ", condition.strip().lower()) if self.fold else condition

    def unsupported(self, what: str, hint: str = "") -> UnsupportedOperationError:
        """The error for ``what``, with ``hint`` (or the dialect's reference)."""
        return UnsupportedOperationError(self.name, what, hint or self.reference)

    def _check_match(self, rules: Sequence[Rule], match: Match) -> None:
        if match == "any" and len(rules) > 1 and not self.any_of:
            raise self.unsupported(
                "a segment matching ANY of several rules",
                f"{self.name} segments AND every condition. {self.reference}".strip(),
            )

    def split(
        self, rules: Sequence[Rule], match: Match = "all"
    ) -> tuple[list[NativeRule], dict[str, list[str]]]:
        """``rules`` in the platform's terms: the conditions (:meth:`to_native`) and the code
        lists (``CodeList.native`` → codes, upper-cased, de-duplicated in order), or raise
        naming the first rule it cannot say. A code-list field takes one rule."""
        self._check_match(rules, match)
        conditions: list[Rule] = []
        codes: dict[str, list[str]] = {}
        for rule in rules:
            target = self.lists.get(rule.field.lower())
            if target is None:
                conditions.append(rule)
                continue
            label = describe(rule)
            if rule.operator not in (Operator.in_, Operator.equals) or not rule.values:
                hint = f"{rule.field} rules take 'in' or 'equals' with ISO codes."
                raise self.unsupported(label, hint)
            listed = [v.strip().upper() for v in rule.values]
            known = target.codes
            if any(not _CODE.fullmatch(c) or (known and c not in known) for c in listed):
                raise self.unsupported(label, "codes must be ISO alpha-2 / continent codes.")
            if target.native in codes:
                raise self.unsupported(label, f"only one {rule.field} rule is possible.")
            codes[target.native] = list(dict.fromkeys(listed))
        return self.to_native(conditions), codes

    def from_lists(self, stored: Mapping[str, Sequence[str] | None]) -> list[Rule]:
        """Stored code lists (``CodeList.native`` → codes) → ``in`` rules, in the order of
        :attr:`lists`; empty or absent lists give no rule."""
        return [
            Rule(
                field=name,
                operator=Operator.in_,
                values=tuple(codes),
                native_operator=target.native,
            )
            for name, target in self.lists.items()
            if (codes := stored.get(target.native))
        ]

    def to_native(self, rules: Sequence[Rule], match: Match = "all") -> list[NativeRule]:
        """``rules`` in the platform's terms, or raise naming the first rule it cannot say."""
        self._check_match(rules, match)
        if self.max_rules is not None and len(rules) > self.max_rules:
            raise self.unsupported(
                f"more than {self.max_rules} rules", f"the platform keeps {self.max_rules}."
            )
        out: list[NativeRule] = []
        for rule in rules:
            label = describe(rule)
            condition = self.condition_of(rule)
            if condition is None or len(rule.values) != 1:
                said = ", ".join(dict.fromkeys(self.operators.values()))
                raise self.unsupported(
                    label, f"{self.name} compares one field with one value using {said}."
                )
            key, value = rule.field.strip(), rule.values[0]
            if self.fields is not None and key.lower() not in self.fields:
                raise self.unsupported(label, f"fields are {', '.join(sorted(self.fields))}.")
            if (self.key_max is not None and len(key) > self.key_max) or (
                self.value_max is not None and len(value) > self.value_max
            ):
                raise self.unsupported(
                    label,
                    f"keys are cut at {self.key_max} and values at {self.value_max} characters.",
                )
            out.append(NativeRule(key, condition, value))
        return out

    def condition_of(self, rule: Rule) -> str | None:
        """The native condition for ``rule``'s operator, or ``None`` when there is none."""
        if rule.operator is Operator.other:
            native = rule.native_operator
            known = native is not None and self._folded(native) in self._conditions
            return native if known else None
        if rule.operator is Operator.in_ and len(rule.values) == 1:
            return self.operators.get(Operator.equals)
        return self.operators.get(rule.operator)

    def from_native(self, native: NativeRule) -> Rule:
        """A stored condition → a neutral rule; conditions with no neutral operator become
        :attr:`Operator.other` with ``native_operator`` set, so nothing is lost."""
        return Rule(
            field=native.field,
            operator=self._conditions.get(self._folded(native.condition), Operator.other),
            values=(native.value,),
            native_operator=native.condition,
        )

    def from_arrays(
        self, fields: Sequence[str], conditions: Sequence[str], values: Sequence[str]
    ) -> tuple[Rule, ...]:
        """Conditions stored as parallel arrays (PHP form fields ``field[]``, ``operator[]``,
        ``value[]``) → rules, one per field. Each rule takes the next value from ``values``,
        a ``between`` the next two; a ``between`` left with fewer keeps what it has as
        :attr:`Operator.other`. A missing field or condition reads ``"?"``; the native
        condition is kept in ``native_operator``."""
        rules: list[Rule] = []
        pos = 0
        for i, field_name in enumerate(fields):
            native = conditions[i] if i < len(conditions) else ""
            op = self._conditions.get(self._folded(native), Operator.other)
            take = 2 if op is Operator.between else 1
            taken = tuple(values[pos : pos + take])
            pos += take
            if op is Operator.between and len(taken) != 2:
                op = Operator.other
            rules.append(
                Rule(
                    field=field_name or "?",
                    operator=op,
                    values=taken,
                    native_operator=native or "?",
                )
            )
        return tuple(rules)


#: One-value text comparisons, case-sensitive (:func:`compare`).
_TEXT_TESTS: dict[Operator, Callable[[str, str], bool]] = {
    Operator.equals: lambda s, w: s == w,
    Operator.not_equals: lambda s, w: s != w,
    Operator.contains: lambda s, w: w in s,
    Operator.not_contains: lambda s, w: w not in s,
    Operator.starts_with: lambda s, w: s.startswith(w),
    Operator.not_starts_with: lambda s, w: not s.startswith(w),
    Operator.ends_with: lambda s, w: s.endswith(w),
    Operator.not_ends_with: lambda s, w: not s.endswith(w),
}


def sql_number(text: str) -> float:
    """``text`` as a number the way SQL servers compare a text column with a number: what does
    not parse (and infinities, NaN) is 0."""
    try:
        number = float(text.strip())
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def compare(
    operator: Operator, stored: str, wanted: str, *, number: Callable[[str], float] = sql_number
) -> bool:
    """Whether a platform holding ``stored`` would say it satisfies ``operator`` with
    ``wanted``, for one-value rules evaluated client-side: text operators compare the strings
    **case-sensitively** (as a binary collation does); ``greater_than``/``less_than`` compare
    ``number(...)`` of both. Other operators (``in``, ``between``, …) are ``ValueError``."""
    if operator is Operator.greater_than:
        return number(stored) > number(wanted)
    if operator is Operator.less_than:
        return number(stored) < number(wanted)
    test = _TEXT_TESTS.get(operator)
    if test is None:
        raise ValueError(f"{operator.value!r} is not a one-value comparison")
    return test(stored, wanted)


def describe(rule: Rule) -> str:
    """``rule`` named for a message: ``rule city equals ['Roma']``."""
    return f"rule {rule.field} {rule.operator.value} {list(rule.values)}"


@functools.cache
def _list_of(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def problem(exc: pydantic.ValidationError) -> tuple[tuple[int | str, ...], str]:
    """The first problem ``exc`` reports, as ``(location, message)``, seen through the
    :class:`Before` markers: an error of a fast branch is skipped (the full branch says what
    is wrong), and the full branch's tag is left out of the location."""
    errors = exc.errors()
    for error in errors:
        loc = error["loc"]
        if _FAST not in loc:
            return tuple(p for p in loc if p != _FULL), error["msg"]
    if errors:
        return errors[0]["loc"], errors[0]["msg"]
    return (), "invalid"


@overload
def validate_items(
    model: type[M],
    items: Sequence[Any],
    *,
    what: str,
    provider: str | None = None,
    excerpt: Callable[[Any], str] = repr,
    into: None = None,
) -> list[M]: ...


@overload
def validate_items(
    model: type[M],
    items: Sequence[Any],
    *,
    what: str,
    provider: str | None = None,
    excerpt: Callable[[Any], str] = repr,
    into: Callable[[M, Any], T],
) -> list[T]: ...


def validate_items(
    model: type[M],
    items: Sequence[Any],
    *,
    what: str,
    provider: str | None = None,
    excerpt: Callable[[Any], str] = repr,
    into: Callable[[M, Any], T] | None = None,
) -> list[M] | list[T]:
    """Validate a page of ``items`` into wire ``model``; a mismatch is
    :class:`UnexpectedResponseError` naming ``what``, the item's position and the first
    problem, with ``excerpt(item)`` (pass the session's masking ``decoder.excerpt``) as the
    raw body.

    Without ``into``, the page is validated in one call (one pass through pydantic-core)
    and the wire models are returned. With ``into``, each item is validated and at once
    mapped by ``into(wire, item)`` (e.g. to a :class:`~segmentkit.models.Segment`), and the
    results are returned: the wire model is dropped as soon as it is mapped, so a page never
    holds both forms of every item (issue 14: half the objects alive, and a fraction of the
    garbage collector's work, on a page of 1,000)."""
    if into is None:
        try:
            return _list_of(model).validate_python(list(items))
        except pydantic.ValidationError as exc:
            loc, msg = problem(exc)
            index = loc[0] if loc and isinstance(loc[0], int) and loc[0] < len(items) else None
            raise _bad_item(what, index, loc[1:], msg, provider, excerpt, items) from None
    validate = model.__pydantic_validator__.validate_python
    out: list[T] = []
    append = out.append
    for index, item in enumerate(items):
        try:
            wire = validate(item)
        except pydantic.ValidationError as exc:
            loc, msg = problem(exc)
            raise _bad_item(what, index, loc, msg, provider, excerpt, items) from None
        append(into(wire, item))
    return out


def _bad_item(
    what: str,
    index: int | None,
    loc: Sequence[int | str],
    msg: str,
    provider: str | None,
    excerpt: Callable[[Any], str],
    items: Sequence[Any],
) -> UnexpectedResponseError:
    where = ".".join(str(p) for p in loc) or "item"
    return UnexpectedResponseError(
        f"unexpected {what} format (item {0 if index is None else index + 1} of the page): "
        f"{where}: {msg}",
        provider=provider,
        raw_body=excerpt(items[index] if index is not None else items),
    )


def indexed_fields(rows: Iterable[Sequence[str]], *names: str) -> list[tuple[str, str]]:
    """Rows of values as parallel PHP form arrays: ``indexed_fields([("a", "1")], "key",
    "value")`` → ``[("key[0]", "a"), ("value[0]", "1")]``, row by row."""
    return [
        (f"{name}[{i}]", value)
        for i, row in enumerate(rows)
        for name, value in zip(names, row, strict=True)
    ]


def phone_entry(phone: str) -> tuple[str, bool]:
    """A stored phone number as a member key: ``(E.164, True)`` when
    :func:`~segmentkit.models.normalize_phone` accepts it, else ``(phone as stored, False)``
    (a platform may hold numbers the normaliser refuses; they still name a member)."""
    try:
        return normalize_phone(phone), True
    except InvalidRecipientError:
        return phone, False


def phone_key(phone: str) -> str:
    """A stored phone number as a member key: E.164 when valid, else as stored."""
    return phone_entry(phone)[0]


def phone_keys(numbers: Iterable[str | None]) -> dict[str, bool]:
    """Stored phone numbers as member keys (:func:`phone_entry`), de-duplicated in stored
    order, blanks skipped: key → whether the normaliser accepted one number with that key."""
    keys: dict[str, bool] = {}
    for number in numbers:
        if number:
            key, valid = phone_entry(number)
            keys[key] = keys.get(key, False) or valid
    return keys


#: Recipient fields a platform may keep among a contact's free-form attributes.
PROFILE_KEYS = ("email", "first_name", "last_name")


def has_profile(recipient: Recipient) -> bool:
    """Whether ``recipient`` carries more than its identity: a name, profile fields or
    attributes (what a member list that stores bare phones or addresses would drop)."""
    r = recipient
    return bool(r.name or r.first_name or r.last_name or r.email or r.attributes)


def profile_fields(attributes: Mapping[Any, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(profile, rest)`` of a contact's free-form attributes: ``profile`` holds the non-blank
    :data:`PROFILE_KEYS` (stripped, the e-mail normalised), ``rest`` every other attribute as
    text (``null`` → ``""``). An ``email`` that is not an address stays in ``rest``."""
    rest = {str(k): "" if v is None else str(v) for k, v in attributes.items()}
    profile: dict[str, str] = {}
    for key in PROFILE_KEYS:
        value = rest.get(key, "").strip()
        if not value:
            continue
        if key == "email":
            try:
                value = normalize_email(value)
            except InvalidRecipientError:
                continue  # not an address: stays an attribute
        profile[key] = value
        rest.pop(key)
    return profile, rest
