"""66text filter segments: the rule dialect and the platform's own filter semantics, on plain
values (no wire model here). API-SPEC 1.6 describes the conditions; 1.11c the real server's
case-sensitive comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from segmentkit.adapter.wire import CodeList, RuleDialect, compare
from segmentkit.models import Operator

#: Neutral operator → 66text filter condition (API-SPEC 1.6).
CONDITION_OF: dict[Operator, str] = {
    Operator.equals: "exact",
    Operator.not_equals: "not_exact",
    Operator.contains: "contains",
    Operator.not_contains: "not_contains",
    Operator.starts_with: "starts_with",
    Operator.not_starts_with: "not_starts_with",
    Operator.ends_with: "ends_with",
    Operator.not_ends_with: "not_ends_with",
    Operator.greater_than: "bigger_than",
    Operator.less_than: "lower_than",
}
#: Custom-parameter rules: one key compared with one value, ANDed, keys cut at 64 and values
#: at 512 characters, at most 50 kept (API-SPEC 1.6).
RULES = RuleDialect(
    name="notificator",
    operators=CONDITION_OF,
    any_of=False,
    max_rules=50,
    key_max=64,
    value_max=512,
    reference="See API-SPEC 1.6.",
    # The contact's derived country / continent: ISO alpha-2 / continent code lists (1.6).
    lists={
        "country": CodeList("filters_countries"),
        "continent": CodeList(
            "filters_continents", frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
        ),
    },
)


#: 66text filter condition → neutral operator (API-SPEC 1.6).
_OPERATOR_OF = {condition: op for op, condition in CONDITION_OF.items()}


def condition_holds(condition: str, stored: str, wanted: str) -> bool:
    """A filter condition as the real server evaluates it: **case-sensitive** (MariaDB's
    ``JSON_UNQUOTE`` yields a binary collation, so ``city exact roma`` does not match ``Roma``
    and ``tier contains OL`` does not match ``gold``, API-SPEC 1.11c); numeric comparisons
    treat non-numbers as 0 (API-SPEC 1.6); unknown conditions are ``exact``."""
    return compare(_OPERATOR_OF.get(condition, Operator.equals), stored, wanted)


def platform_picks(
    filters: Sequence[tuple[str, str, str]],
    lists: Mapping[str, Sequence[str]],
    *,
    params: Mapping[str, Any],
    codes: Mapping[str, str | None],
    opted_out: bool,
) -> bool:
    """Whether the platform would put a contact (its custom ``params``, its derived codes by
    list — country, continent —, opt-out flag) in a filter segment with these ``(key,
    condition, value)`` filters and code ``lists`` now (API-SPEC 1.6): all conditions ANDed,
    opted-out contacts excluded, a missing key never matches (even for negated conditions),
    and a segment with no filters at all matches nobody."""
    if opted_out or not (filters or lists):
        return False
    for key, condition, wanted in filters:
        if params.get(key) is None or not condition_holds(condition, str(params[key]), wanted):
            return False
    return all((codes.get(native) or "") in listed for native, listed in lists.items())
