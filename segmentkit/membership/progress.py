"""Progress of long membership operations, reported by the engine (no context variable)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Progress", "ProgressCallback", "Reporter"]

#: ``progress(phase, done, total)``: phase is "reading", "adding" or "removing".
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Progress:
    """One progress report.

    ``rate`` is items per second so far, ``eta`` the seconds left at that rate (``None``
    until known), ``waiting_for_rate_limit`` the seconds of the pacing/backoff wait now in
    progress (``None`` when not waiting), ``requests_estimate`` the requests the phase is
    expected to send in all.
    """

    phase: str
    done: int
    total: int
    elapsed: float
    rate: float
    eta: float | None
    waiting_for_rate_limit: float | None = None
    requests_estimate: int | None = None


class Reporter:
    """Holds the callbacks of one operation and turns counts into :class:`Progress`."""

    def __init__(
        self,
        progress: ProgressCallback | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._progress = progress
        self._on_progress = on_progress
        self._clock = clock
        self._lock = threading.Lock()
        self.phase = ""
        self.done = 0
        self.total = 0
        self.requests_estimate: int | None = None
        self._start = clock()
        self._waiting: float | None = None

    @property
    def listening(self) -> bool:
        """Whether anyone listens."""
        return self._progress is not None or self._on_progress is not None

    def start(self, phase: str, total: int, requests_estimate: int | None = None) -> None:
        """Begin ``phase`` with ``total`` items."""
        with self._lock:
            self.phase, self.done, self.total = phase, 0, total
            self.requests_estimate = requests_estimate
            self._start = self._clock()
        self._emit()

    def advance(self, n: int = 1) -> None:
        """``n`` more items are finished."""
        if not n:
            return
        with self._lock:
            self.done += n  # not clamped: an item counted twice must show
        self._emit()

    def finish(self) -> None:
        """Every item of the phase is finished."""
        with self._lock:
            self.done = self.total
        self._emit()

    def waiting(self, seconds: float, reason: str = "") -> None:
        """The session waits ``seconds`` (pacing or backoff); shown until the next report."""
        with self._lock:
            self._waiting = seconds
        self._emit(keep_wait=False)

    def snapshot(self) -> Progress:
        """The current state as a :class:`Progress`."""
        elapsed = max(0.0, self._clock() - self._start)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = left / rate if rate > 0 else (0.0 if left == 0 else None)
        return Progress(
            phase=self.phase,
            done=self.done,
            total=self.total,
            elapsed=elapsed,
            rate=rate,
            eta=eta,
            waiting_for_rate_limit=self._waiting,
            requests_estimate=self.requests_estimate,
        )

    def _emit(self, keep_wait: bool = False) -> None:
        if self._progress is not None:
            self._progress(self.phase, self.done, self.total)
        if self._on_progress is not None:
            self._on_progress(self.snapshot())
        if not keep_wait:
            self._waiting = None

    def attach(self, session: Any) -> Callable[[], None]:
        """Listen to ``session.on_wait`` when the session offers it; returns the remover."""
        on_wait = getattr(session, "on_wait", None)
        if on_wait is None or self._on_progress is None:
            return lambda: None
        remover = on_wait(self.waiting)
        return remover if callable(remover) else (lambda: None)
