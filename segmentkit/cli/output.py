"""Everything the CLI prints goes through :class:`Output`, which masks every known secret
(:func:`segmentkit.redact.mask`) in text, tables and JSON before it reaches a stream."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..events import Event, RateLimitWait, RetryScheduled
from ..redact import MASK
from ..redact import mask as _mask_secrets

if TYPE_CHECKING:
    # rich loads when something is rendered, not for `segmentkit --help` (issue 14).
    from rich.console import Console
    from rich.progress import ProgressColumn
    from rich.text import Text

__all__ = ["Output", "ProgressState", "clean", "format_duration"]

ProgressCallback = Callable[[str, int, int], None]

# The credential part of anything DSN-like (``scheme://user:pass@host``).
_DSN_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^@\s/?#]+@")


def clean(text: str) -> str:
    """``text`` with every known secret masked and the credential part of any DSN or URL
    (``notificator://KEY@host`` -> ``notificator://***@host``) replaced."""
    return _DSN_USERINFO.sub(rf"\1{MASK}@", _mask_secrets(text))


mask = clean


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1m15s"``, ``5040`` -> ``"1h24m"``, ``8`` -> ``"8s"``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_rate(per_second: float) -> str:
    """A human rate: ``"12.3/s"``, or ``"58/min"`` when slower than one a second."""
    if per_second >= 1:
        return f"{per_second:.1f}/s"
    return f"{per_second * 60:.0f}/min"


class ProgressState:
    """What a long operation is doing, in words: ``phase done/total``, the rate, the elapsed
    time, the ETA, and while client-side pacing holds a request, "waiting for the platform's
    rate limit (resumes in N s)".

    Fed by the library's ``progress(phase, done, total)`` callback (:meth:`update`) and by
    the client's events (:meth:`on_event`: :class:`~segmentkit.events.RateLimitWait`, and a
    429's :class:`~segmentkit.events.RetryScheduled`). ``clock`` is injectable for tests.
    """

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.clock = clock
        self.started = clock()
        self.phase = ""
        self.done = 0
        self.total = 0
        self.phase_started = self.started
        self.wait_until: float | None = None
        self._lock = threading.Lock()

    def update(self, phase: str, done: int, total: int) -> None:
        """The progress callback: ``done`` of ``total`` items in ``phase``."""
        with self._lock:
            now = self.clock()
            if phase != self.phase:
                self.phase, self.phase_started = phase, now
            self.done, self.total = done, total
            if self.wait_until is not None and done and now >= self.wait_until:
                self.wait_until = None

    def on_event(self, event: Event) -> None:
        """A client event: rate-limit waits (pacing, or a 429's ``Retry-After``) show as a
        waiting state with a countdown."""
        delay: float | None = None
        if isinstance(event, RateLimitWait):
            delay = event.delay
        elif isinstance(event, RetryScheduled) and event.reason.startswith("RateLimitError"):
            delay = event.delay  # a 429 honoured through Retry-After
        if delay is not None and delay > 0:
            with self._lock:
                self.wait_until = max(self.wait_until or 0.0, self.clock() + delay)

    def rate(self) -> float | None:
        """Items per second in the current phase (``None`` before the first item)."""
        elapsed = self.clock() - self.phase_started
        if self.done <= 0 or elapsed <= 0:
            return None
        return self.done / elapsed

    def eta(self) -> float | None:
        """Seconds left in the current phase at the current rate (``None`` when unknown)."""
        rate = self.rate()
        if rate is None or not self.total:
            return None
        return max(0.0, (self.total - self.done) / rate)

    def waiting(self) -> float | None:
        """Seconds until a rate-limit wait ends (``None`` when not waiting)."""
        if self.wait_until is None:
            return None
        left = self.wait_until - self.clock()
        return left if left > 0 else None

    def status(self) -> str:
        """Rate, elapsed, ETA and the waiting state (without the label and counts)."""
        parts = []
        rate = self.rate()
        parts.append(format_rate(rate) if rate is not None else "-/s")
        parts.append(f"elapsed {format_duration(self.clock() - self.started)}")
        eta = self.eta()
        parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA ?")
        wait = self.waiting()
        if wait is not None:
            parts.append(f"waiting for the platform's rate limit (resumes in {math.ceil(wait)} s)")
        return " · ".join(parts)

    def line(self) -> str:
        """The whole progress line, as printed without a terminal."""
        total = f"/{self.total}" if self.total else ""
        return f"{self.label}: {self.phase or 'starting'} {self.done}{total} · {self.status()}"


@functools.cache
def _columns() -> tuple[Callable[[ProgressState], ProgressColumn], Callable[[], ProgressColumn]]:
    """The progress bar's own columns (classes made when a bar is first drawn: they subclass
    rich's ``ProgressColumn``)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class _StatusColumn(ProgressColumn):
        def __init__(self, state: ProgressState) -> None:
            super().__init__()
            self.state = state

        def render(self, task: Task) -> Text:
            if task.finished:
                return Text(f"done in {format_duration(task.elapsed or 0.0)}", style="green")
            waiting = self.state.waiting() is not None
            return Text(self.state.status(), style="yellow" if waiting else "")

    class _CountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = "?" if task.total is None else str(int(task.total))
            return Text(f"{int(task.completed)}/{total}")

    return _StatusColumn, _CountColumn


class ProgressView:
    """What :meth:`Output.progress` yields: call it as the ``progress`` callback, and pass
    :meth:`on_event` events (the CLI's clients do that for you)."""

    def __init__(self, state: ProgressState, draw: Callable[[str, int, int], None]) -> None:
        self.state = state
        self._draw = draw

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.state.update(phase, done, total)
        self._draw(phase, done, total)

    def on_event(self, event: Event) -> None:
        """Forward a client event to the state (rate-limit waits)."""
        self.state.on_event(event)


def _text(text: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(text, style=style)


def _console(stderr: bool) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 120  # pipes and captured output: wide enough for the tables
    return console


class Output:
    """Masked output: human text and rich tables, or JSON for scripts.

    ``quiet`` keeps only results and errors; ``verbose`` adds detail; ``json_mode`` makes
    read commands print one JSON document on stdout and nothing else there.
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False, json_mode: bool = False):
        self.quiet = quiet
        self.verbose = verbose
        self.json_mode = json_mode
        self._console: Console | None = None
        self._errors: Console | None = None

    @property
    def console(self) -> Console:
        """The stdout console (made on first use: rich loads only to render)."""
        if self._console is None:
            self._console = _console(stderr=False)
        return self._console

    @property
    def errors(self) -> Console:
        """The stderr console (made on first use)."""
        if self._errors is None:
            self._errors = _console(stderr=True)
        return self._errors

    @property
    def tty(self) -> bool:
        """True when stdout is a terminal (progress bars are drawn only then)."""
        return self.console.is_terminal

    def say(self, text: str, *, style: str | None = None) -> None:
        """A human line on stdout (skipped with ``--quiet`` or ``--json``)."""
        if self.quiet or self.json_mode:
            return
        self.console.print(_text(mask(text), style=style or ""))

    def result(self, text: str) -> None:
        """A result line on stdout (kept with ``--quiet``; skipped with ``--json``)."""
        if not self.json_mode:
            self.console.print(_text(mask(text)))

    def detail(self, text: str) -> None:
        """A line shown only with ``--verbose`` (on stderr)."""
        if self.verbose:
            self.errors.print(_text(mask(text), style="dim"))

    def warn(self, text: str) -> None:
        """A warning on stderr (always shown)."""
        self.errors.print(_text(mask(f"warning: {text}"), style="yellow"))

    def error(self, text: str) -> None:
        """The one-line error on stderr."""
        click.echo(mask(f"error: {text}"), err=True)

    def heading(self, text: str) -> None:
        """A section heading (human output only)."""
        if self.quiet or self.json_mode:
            return
        self.console.print()
        self.console.rule(_text(mask(text), style="bold"))

    def json(self, data: Any) -> None:
        """One JSON document on stdout, masked."""
        click.echo(mask(json.dumps(data, indent=2, ensure_ascii=False, default=str)))

    def raw(self, text: str) -> None:
        """Text written to stdout as is, except masking (exports)."""
        click.echo(mask(text), nl=False)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
        force: bool = False,
    ) -> None:
        """A rich table with masked cells (shown with ``--quiet`` only when ``force``)."""
        if self.json_mode or (self.quiet and not force):
            return
        from rich.table import Table

        table = Table(title=mask(title) if title else None, title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(_text(mask("" if c is None else str(c))) for c in row))
        self.console.print(table)

    @contextlib.contextmanager
    def progress(
        self, label: str, *, clock: Callable[[], float] = time.monotonic
    ) -> Iterator[ProgressView | None]:
        """A ``progress(phase, done, total)`` callback (a :class:`ProgressView`) drawing a bar
        with rate, elapsed time, ETA and the rate-limit waiting state on a terminal; without a
        terminal, ``--verbose`` prints the same line to stderr every few seconds, and otherwise
        ``None`` is yielded (also with ``--quiet``/``--json``)."""
        state = ProgressState(mask(label), clock)
        if self.quiet or self.json_mode:
            yield None
            return
        if not self.tty:
            if not self.verbose:
                yield None
                return
            last = [-1e9]

            def plain(phase: str, done: int, total: int) -> None:
                now = clock()
                if now - last[0] >= 5.0 or (total and done >= total):
                    last[0] = now
                    self.errors.print(_text(mask(state.line()), style="dim"))

            yield ProgressView(state, plain)
            return
        from rich.progress import BarColumn, Progress, TaskID, TextColumn

        status_column, count_column = _columns()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            count_column(),
            status_column(state),
        )
        with Progress(*columns, console=self.console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def update(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(mask(f"{label}: {phase}"), total=total or None)
                bar.update(tasks[phase], completed=done, total=total or None)

            yield ProgressView(state, update)
