"""Per-provider seeding for the benchmarks, kept to the fakes' public seeding helpers."""

from __future__ import annotations

from typing import Any

#: Fake options per provider so the rate limiter never interferes with a measurement.
UNLIMITED: dict[str, dict[str, Any]] = {
    "memory": {},
    "notificator": {"rate_limit": 10**9, "rate_window": 60.0},
    "allstech": {},
}

#: Items on one page of a segment listing (the provider's largest page).
PAGE: dict[str, int] = {"memory": 100, "notificator": 1000, "allstech": 1000}


def seed_segments(provider: str, platform: Any, n: int) -> list[str]:
    """``n`` segments (static where the platform has that notion); their ids."""
    if provider == "memory":
        return [str(platform.add_segment(f"segment {i:05d}")) for i in range(n)]
    if provider == "notificator":
        return [str(platform.add_segment(f"segment {i:05d}", "custom")) for i in range(n)]
    return [platform.seed_segment(f"segment {i:05d}") for i in range(n)]
