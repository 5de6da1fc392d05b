"""Deterministic fault injection for fake platforms.

A :class:`Fault` says what goes wrong, on which requests (method and path regex), and how
often (``rate`` in [0, 1], optionally capped by ``limit``). Decisions come from one seeded
``random.Random`` under a lock, so a sequential test sees the same faults on every run.

Fault kinds (:data:`FAULT_KINDS`):

* before the platform handles the request (nothing is applied): ``latency`` (adds
  ``seconds`` and lets the request through), ``429`` (the platform's own rate-limit answer with
  ``Retry-After``), ``html500``, ``502``, ``503``, ``504``, ``reset`` (the connection is cut
  with no answer), ``stall`` (no answer for ``seconds``, longer than the client's read timeout);
* after the platform handled it (a write *is* applied): ``malformed_json``, ``truncated`` (a
  body shorter than its ``Content-Length``), ``applied_then_lost`` (the connection is cut after
  the write, so the client cannot know the outcome).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

__all__ = ["AFTER_KINDS", "BEFORE_KINDS", "FAULT_KINDS", "Fault", "FaultInjector"]

BEFORE_KINDS = frozenset({"latency", "429", "html500", "502", "503", "504", "reset", "stall"})
AFTER_KINDS = frozenset({"malformed_json", "truncated", "applied_then_lost"})
FAULT_KINDS = BEFORE_KINDS | AFTER_KINDS


@dataclass
class Fault:
    """One fault rule. ``methods`` empty = every method; ``path`` is a regex searched in the
    path below the platform's base path (``""`` matches everything)."""

    kind: str
    rate: float = 1.0
    methods: frozenset[str] = field(default_factory=frozenset)
    path: str = ""
    seconds: float = 0.0
    retry_after: float = 0.0
    limit: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        self.methods = frozenset(m.upper() for m in self.methods)
        self._pattern = re.compile(self.path)

    def applies(self, method: str, path: str) -> bool:
        """Whether this rule covers ``method path``."""
        if self.methods and method.upper() not in self.methods:
            return False
        if self.limit is not None and self.fired >= self.limit:
            return False
        return bool(self._pattern.search(path))


class FaultInjector:
    """Holds fault rules and decides, deterministically under ``seed``, which fire."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.rules: list[Fault] = []

    def add(
        self,
        kind: str,
        rate: float = 1.0,
        *,
        methods: tuple[str, ...] | frozenset[str] = (),
        path: str = "",
        seconds: float = 0.0,
        retry_after: float = 0.0,
        limit: int | None = None,
    ) -> Fault:
        """Add a rule and return it (its ``fired`` counter shows how often it fired)."""
        rule = Fault(
            kind=kind,
            rate=rate,
            methods=frozenset(methods),
            path=path,
            seconds=seconds,
            retry_after=retry_after,
            limit=limit,
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self.rules.clear()

    def reseed(self, seed: int) -> None:
        """Restart the random sequence."""
        with self._lock:
            self._rng.seed(seed)

    def decide(self, method: str, path: str) -> tuple[list[Fault], Fault | None, Fault | None]:
        """For one request: (latency rules that fire, the before-fault, the after-fault)."""
        latency: list[Fault] = []
        before: Fault | None = None
        after: Fault | None = None
        with self._lock:
            for rule in self.rules:
                if not rule.applies(method, path):
                    continue
                # Draw for every applicable rule, so the sequence does not depend on outcomes.
                hit = self._rng.random() < rule.rate
                if not hit:
                    continue
                if rule.kind == "latency":
                    rule.fired += 1
                    latency.append(rule)
                elif rule.kind in BEFORE_KINDS and before is None and after is None:
                    rule.fired += 1
                    before = rule
                elif rule.kind in AFTER_KINDS and before is None and after is None:
                    rule.fired += 1
                    after = rule
        return latency, before, after
