"""A platform's segment-list filters and ordering, declared: :class:`QueryParams` turns a
:class:`~segmentkit.models.SegmentQuery` into the query parameters the platform documents.

The client re-applies every filter and ordering itself (platforms ignore some of them), so
these parameters only narrow what the server sends: date bounds are sent in the platform's
format (whole seconds), and a platform that filters one date field per request gets the first
one asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from ..models import SegmentKind, SegmentQuery

__all__ = ["QueryParams"]


@dataclass(frozen=True)
class QueryParams:
    """Where each filter of a segment query goes (``None``: the platform has no such filter).

    * ``search`` — the parameter of the name search; ``search_with`` is sent along with it;
    * ``type`` — the parameter of the platform's segment type; ``dynamic_type`` is the type
      asked for when the query wants rule-based segments (``kind="dynamic"``);
    * ``dates`` — ``"created"``/``"updated"`` → the platform's field name; ``date_field``
      names the field filtered, ``date_start``/``date_end`` the bounds, in ``date_format``
      (UTC);
    * ``order`` — neutral order field → the platform's; ``order_by`` and ``order_type`` are the
      parameters, ``directions`` the (ascending, descending) values.
    """

    search: str | None = None
    search_with: Mapping[str, str] = field(default_factory=dict)
    type: str | None = None
    dynamic_type: str | None = None
    dates: Mapping[str, str] = field(default_factory=dict)
    date_field: str | None = None
    date_start: str = "start"
    date_end: str = "end"
    date_format: str = "%Y-%m-%d %H:%M:%S"
    order: Mapping[str, str] = field(default_factory=dict)
    order_by: str | None = None
    order_type: str | None = None
    directions: tuple[str, str] = ("ASC", "DESC")

    def params(self, query: SegmentQuery) -> dict[str, Any]:
        """The query parameters for ``query``."""
        out: dict[str, Any] = {}
        if query.search and self.search:
            out.update({self.search: query.search, **self.search_with})
        ptype = query.provider_type
        if ptype is None and query.kind is SegmentKind.dynamic:
            ptype = self.dynamic_type
        if ptype and self.type:
            out[self.type] = ptype
        bounds = {
            "created": (query.created_after, query.created_before),
            "updated": (query.updated_after, query.updated_before),
        }
        for which, (start, end) in bounds.items():
            native = self.dates.get(which)
            if native is None or (start is None and end is None):
                continue
            if self.date_field:
                out[self.date_field] = native
            for name, value in ((self.date_start, start), (self.date_end, end)):
                if value is not None:
                    out[name] = value.astimezone(timezone.utc).strftime(self.date_format)
            break  # one date field per request; the other is applied client-side
        if query.order_by is not None and self.order_by and query.order_by in self.order:
            out[self.order_by] = self.order[query.order_by]
            if self.order_type:
                out[self.order_type] = self.directions[1 if query.descending else 0]
        return out
