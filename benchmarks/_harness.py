"""What every benchmark shares: timing (alternating runs, median and spread), fakes on a
loopback socket, a registry that holds whichever adapters are installed, and RESULTS.md.

A benchmark module defines ``NAME``, ``TITLE`` and ``run() -> list[Row]``. It raises
:class:`CheckFailedError` when a correctness check inside it fails and :class:`NotRunError`
when it cannot run (e.g. an adapter is not installed yet); both make ``python -m benchmarks``
exit non-zero.
No benchmark asserts a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segmentkit import Registry, create_registry
from segmentkit.testing import FakeServer, fake

RESULTS = Path(__file__).with_name("RESULTS.md")

#: Provider id -> module registering it (the entry-point targets in pyproject.toml).
ADAPTERS = {
    "memory": "segmentkit.testing.memory",
    "notificator": "segmentkit_notificator.provider",
    "allstech": "segmentkit_allstech.provider",
}


class CheckFailedError(Exception):
    """A correctness check inside a benchmark failed (wrong count, missing item, ...)."""


class NotRunError(Exception):
    """The benchmark could not run, or only partly (say why); ``rows`` holds what did run."""

    def __init__(self, reason: str, rows: list[Row] | None = None) -> None:
        super().__init__(reason)
        self.rows = rows or []


def check(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailedError` with ``message`` unless ``condition``."""
    if not condition:
        raise CheckFailedError(message)


# ---------------------------------------------------------------------------- adapters


def adapter_available(provider: str) -> bool:
    """Whether ``provider``'s adapter module imports."""
    try:
        importlib.import_module(ADAPTERS[provider])
    except Exception:
        return False
    return True


def registry(*providers: str) -> Registry:
    """A registry holding exactly ``providers`` (no entry points: a half-written adapter
    elsewhere cannot get in the way). :class:`NotRunError` when one is not importable."""
    modules = []
    for p in providers:
        try:
            modules.append(importlib.import_module(ADAPTERS[p]))
        except Exception as exc:
            raise NotRunError(
                f"adapter {p!r} not importable: {type(exc).__name__}: {exc}"
            ) from None
    return create_registry(entry_points=False, plugins=modules, env={})


@contextlib.contextmanager
def serve(provider: str, **platform_options: Any) -> Iterator[FakeServer]:
    """``provider``'s fake on 127.0.0.1 (socket mode), stopped afterwards."""
    with fake(provider, "socket", registry=registry(provider), **platform_options) as srv:
        yield srv


# ---------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated measurements (seconds, or any unit)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    @property
    def iqr(self) -> tuple[float, float]:
        if len(self.values) < 4:
            return self.lo, self.hi
        q = statistics.quantiles(self.values, n=4, method="inclusive")
        return q[0], q[2]

    def fmt(self, scale: float = 1.0, unit: str = "s", digits: int = 3) -> str:
        """``median (lo-hi) unit``: min-max below 4 samples, else the interquartile range."""
        lo, hi = self.iqr
        kind = "IQR" if len(self.values) >= 4 else "range"
        return (
            f"{self.median * scale:.{digits}g} {unit} "
            f"({kind} {lo * scale:.{digits}g}-{hi * scale:.{digits}g}, n={len(self.values)})"
        )


def alternate(
    a: Callable[[], float], b: Callable[[], float], *, repeats: int, warmup: int = 1
) -> tuple[Spread, Spread]:
    """Run ``a`` and ``b`` alternately (ABAB…) ``repeats`` times each after ``warmup``
    unmeasured rounds. Each callable does its own setup and returns the seconds it measured."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeats):
        gc.collect()
        ta.append(a())
        gc.collect()
        tb.append(b())
    return Spread(tuple(ta)), Spread(tuple(tb))


def ratio(a: Spread, b: Spread) -> Spread:
    """Per-round ratios a/b (rounds are adjacent in time, so drift cancels)."""
    return Spread(tuple(x / y for x, y in zip(a.values, b.values, strict=True)))


def calibrate(fn: Callable[[], Any], target: float = 0.25, cap: int = 500) -> int:
    """How many calls of ``fn`` take about ``target`` seconds (at least 3)."""
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-6)
    return max(3, min(cap, int(target / one)))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of ``fn()``."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# ---------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the RESULTS.md table (``ratio`` first, absolute figures beside it)."""

    name: str
    ratio: str
    figures: str
    notes: str = ""
    details: str = ""  # markdown shown under "Details" for this row's benchmark


def machine() -> str:
    """nproc, Python version and platform."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    py = f"{platform.python_implementation()} {platform.python_version()}"
    return f"nproc={nproc}, {py}, {platform.system()} {platform.machine()}"


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_HEADER = """# Benchmark results

Written by `make bench` (`python -m benchmarks [NAME ...]`); each run replaces the rows of the
benchmarks it ran. Ratios are medians of per-round ratios (segmentkit and its baseline run
alternately, ABAB…, against the same fake on 127.0.0.1). Figures are medians with the
interquartile range (or min-max below 4 samples). Nothing here is asserted: a benchmark fails
only when it cannot run or a correctness check inside it fails.

"""
_TABLE_HEAD = (
    "| benchmark | ratio | absolute figures | notes | machine | date |\n|---|---|---|---|---|---|\n"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(text: str, key: str) -> str | None:
    m = re.search(
        rf"<!-- begin:{re.escape(key)} -->\n(.*?)<!-- end:{re.escape(key)} -->\n", text, re.S
    )
    return m.group(1) if m else None


def _set_section(text: str, key: str, body: str) -> str:
    block = f"<!-- begin:{key} -->\n{body.rstrip()}\n<!-- end:{key} -->\n"
    pattern = re.compile(
        rf"<!-- begin:{re.escape(key)} -->\n.*?<!-- end:{re.escape(key)} -->\n", re.S
    )
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text)
    return text.rstrip("\n") + "\n\n" + block


def write_results(rows_by_bench: dict[str, list[Row]], *, order: list[str]) -> None:
    """Replace the table rows (and details) of the benchmarks that ran, keep the others."""
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    if not text.startswith("# Benchmark results"):
        text = _HEADER + text
    table = _section(text, "table") or ""
    kept: dict[str, list[str]] = {}
    for line in table.splitlines():
        m = re.match(r"\| (\S+?)(?:\[[^\]]*\])? \|", line)
        if m and not line.startswith(("| benchmark", "|---")):
            kept.setdefault(m.group(1), []).append(line)
    stamp, host = today(), machine()
    for bench, rows in rows_by_bench.items():
        kept[bench] = [
            f"| {_cell(r.name)} | {_cell(r.ratio)} | {_cell(r.figures)} | {_cell(r.notes)} "
            f"| {host} | {stamp} |"
            for r in rows
        ]
    lines = [line for b in order if b in kept for line in kept[b]]
    lines += [line for b, ls in kept.items() if b not in order for line in ls]
    text = _set_section(text, "table", "## Benchmarks\n\n" + _TABLE_HEAD + "\n".join(lines))
    for bench, rows in rows_by_bench.items():
        details = "\n\n".join(r.details for r in rows if r.details)
        if details:
            text = _set_section(text, f"details:{bench}", f"### {bench}\n\n{details}")
    RESULTS.write_text(text)


def write_section(key: str, body: str) -> None:
    """Replace one free-form section (e.g. the resilience matrix)."""
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    RESULTS.write_text(_set_section(text, key, body))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
