"""Everything the CLI prints goes through :class:`Output`, which masks every known secret
(:func:`segmentkit.redact.mask`) in text, tables and JSON before it reaches a stream."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from ..redact import mask

__all__ = ["Output"]

ProgressCallback = Callable[[str, int, int], None]


def _console(stderr: bool) -> Console:
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
        self.console = _console(stderr=False)
        self.errors = _console(stderr=True)

    @property
    def tty(self) -> bool:
        """True when stdout is a terminal (progress bars are drawn only then)."""
        return self.console.is_terminal

    def say(self, text: str, *, style: str | None = None) -> None:
        """A human line on stdout (skipped with ``--quiet`` or ``--json``)."""
        if self.quiet or self.json_mode:
            return
        self.console.print(Text(mask(text), style=style or ""))

    def result(self, text: str) -> None:
        """A result line on stdout (kept with ``--quiet``; skipped with ``--json``)."""
        if not self.json_mode:
            self.console.print(Text(mask(text)))

    def detail(self, text: str) -> None:
        """A line shown only with ``--verbose`` (on stderr)."""
        if self.verbose:
            self.errors.print(Text(mask(text), style="dim"))

    def warn(self, text: str) -> None:
        """A warning on stderr (always shown)."""
        self.errors.print(Text(mask(f"warning: {text}"), style="yellow"))

    def error(self, text: str) -> None:
        """The one-line error on stderr."""
        click.echo(mask(f"error: {text}"), err=True)

    def heading(self, text: str) -> None:
        """A section heading (human output only)."""
        if self.quiet or self.json_mode:
            return
        self.console.print()
        self.console.rule(Text(mask(text), style="bold"))

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
        table = Table(title=mask(title) if title else None, title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(Text(mask("" if c is None else str(c))) for c in row))
        self.console.print(table)

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[ProgressCallback | None]:
        """A ``progress(phase, done, total)`` callback drawing a bar, or ``None`` when stdout
        is not a terminal (or with ``--quiet``/``--json``)."""
        if not self.tty or self.quiet or self.json_mode:
            yield None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def update(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(mask(f"{label}: {phase}"), total=total or None)
                bar.update(tasks[phase], completed=done, total=total or None)

            yield update
