"""Two reference builds of a 66text segment page, timed beside ``segments.list()`` to show where
issue 14's ≤ 1.6x goal sits (benchmark code only; the library does not use them).

* :func:`bare_build` — the least any client that hands out pydantic
  :class:`~segmentkit.models.Segment` objects must do: pydantic-core builds each one straight
  from the wire dict (fields read by alias, in Rust) with no check, no mapping and no Python
  call per item. Its values are wrong on purpose (the id stays an int, ``kind`` is unset): it
  prices building the objects, not reading the platform.
* :func:`fused_build` — the issue's own design taken to its end: one pydantic-core pass
  per page that checks the common shape of a 66text segment (custom segments, filter segments
  without rules) *and* builds the ``Segment`` in Rust, then a short Python pass for what no
  schema can say (``raw`` is the item itself, ``extra`` quotes its ``settings``, stamps are
  UTC); any other item is handed to the library's own path. It gives exactly what
  ``segments.list()`` gives (the row checks it on every page), accepts a subset of what the
  wire model accepts, and is as strict as the shape it covers — what a fused fast path in
  the adapter would cost at best.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timezone
from typing import Any

from pydantic_core import CoreSchema, SchemaValidator
from pydantic_core import core_schema as cs

from segmentkit.adapter.wire import _STAMP  # the AS_UTC fast branch's stamp form
from segmentkit.models import Segment, SegmentKind

#: A key no item has: fields read from it take their default.
_NOWHERE = "\x00"


def bare_build() -> Callable[[list[Any]], list[Any]]:
    """``items → list[Segment]`` with no check and no mapping (see the module docstring)."""
    alias = {
        "id": "id",
        "name": "name",
        "provider_type": "type",
        "recipient_count": "total_contacts",
        "created_at": "datetime",
        "updated_at": "last_datetime",
    }
    fields = {
        name: cs.model_field(
            cs.with_default_schema(cs.any_schema(), default=None),
            validation_alias=alias.get(name, _NOWHERE),
        )
        for name in Segment.model_fields
    }
    schema = cs.list_schema(cs.model_schema(Segment, cs.model_fields_schema(fields)))
    return SchemaValidator(schema).validate_python


def _fixed(value: Any) -> CoreSchema:
    return cs.with_default_schema(cs.any_schema(), default=value)


def _text() -> CoreSchema:
    # Segment's own str_strip_whitespace, applied by the same engine.
    return cs.str_schema(strict=True, strip_whitespace=True)


def _stamp() -> CoreSchema:
    parsed = cs.chain_schema([cs.str_schema(strict=True, pattern=_STAMP), cs.datetime_schema()])
    return cs.with_default_schema(cs.nullable_schema(parsed), default=None)


def _settings(no_rules: bool) -> CoreSchema:
    # WireSettings' fields, each in the one form its Before marker leaves as it is.
    def listed(item: CoreSchema) -> cs.TypedDictField:
        return cs.typed_dict_field(
            cs.with_default_schema(cs.list_schema(item, strict=True), default=[]), required=False
        )

    codes = cs.typed_dict_field(
        cs.with_default_schema(
            cs.nullable_schema(
                cs.list_schema(
                    cs.str_schema(strict=True), strict=True, max_length=0 if no_rules else None
                )
            ),
            default=None,
        ),
        required=False,
    )
    return cs.typed_dict_schema(
        {
            "phone_numbers": listed(cs.nullable_schema(cs.str_schema(strict=True))),
            "contacts_ids": listed(cs.int_schema(strict=True)),
            "filters_custom_parameters": cs.typed_dict_field(
                cs.list_schema(cs.any_schema(), strict=True, max_length=0), required=False
            ),
            "filters_countries": codes,
            "filters_continents": codes,
        },
        extra_behavior="ignore",
        strict=True,
    )


def _segment(kind: SegmentKind, no_rules: bool) -> CoreSchema:
    fields = {
        "id": cs.model_field(
            cs.chain_schema(
                [cs.int_schema(strict=True), cs.str_schema(coerce_numbers_to_str=True)]
            ),
            validation_alias="id",
        ),
        "provider": cs.model_field(_fixed("notificator"), validation_alias=_NOWHERE),
        "name": cs.model_field(_text(), validation_alias="name"),
        "kind": cs.model_field(_fixed(kind), validation_alias=_NOWHERE),
        "provider_type": cs.model_field(_text(), validation_alias="type"),
        "rules": cs.model_field(_fixed(()), validation_alias=_NOWHERE),
        "match": cs.model_field(_fixed("all"), validation_alias=_NOWHERE),
        "recipient_count": cs.model_field(
            cs.with_default_schema(cs.nullable_schema(cs.int_schema()), default=None),
            validation_alias="total_contacts",
        ),
        "created_at": cs.model_field(_stamp(), validation_alias="datetime"),
        "updated_at": cs.model_field(_stamp(), validation_alias="last_datetime"),
        # Checked here, replaced in the Python pass: settings (extra), user_id (raw).
        "extra": cs.model_field(_settings(no_rules), validation_alias="settings"),
        "raw": cs.model_field(
            cs.with_default_schema(cs.nullable_schema(cs.int_schema(strict=True)), default=None),
            validation_alias="user_id",
        ),
    }
    return cs.model_schema(Segment, cs.model_fields_schema(fields))


def fused_build(
    otherwise: Callable[[Any], Segment],
) -> Callable[[list[Any]], list[Segment]]:
    """``items → list[Segment]`` in one native pass for the common shape, ``otherwise(item)``
    (the library's own path) for any other item (see the module docstring)."""
    item = cs.tagged_union_schema(
        {
            "custom": _segment(SegmentKind.static, no_rules=False),
            "filter": _segment(SegmentKind.dynamic, no_rules=True),
        },
        discriminator="type",
    )
    # A failed item comes out as it came in (left to right: the shape, else anything).
    page = SchemaValidator(
        cs.list_schema(cs.union_schema([item, cs.any_schema()], mode="left_to_right"))
    )
    validate = page.validate_python
    every = frozenset(Segment.model_fields)
    utc = timezone.utc
    put = object.__setattr__

    def build(items: list[Any]) -> list[Segment]:
        out: list[Any] = validate(items)
        for i, seg in enumerate(out):
            raw = items[i]
            if type(seg) is not Segment:
                out[i] = otherwise(raw)
                continue
            d = seg.__dict__
            user_id = d["raw"]
            settings = raw["settings"]
            d["extra"] = (
                {"settings": settings}
                if user_id is None
                else {"settings": settings, "user_id": user_id}
            )
            d["raw"] = raw
            stamp = d["created_at"]
            if stamp is not None:
                d["created_at"] = stamp.replace(tzinfo=utc)
            stamp = d["updated_at"]
            if stamp is not None:
                d["updated_at"] = stamp.replace(tzinfo=utc)
            put(seg, "__pydantic_fields_set__", set(every))
        return out

    return build
