"""Collects resilience-matrix cells during a test run and renders them as a table.

A cell is recorded where its test runs (:func:`record`), handed to the test's report
(:func:`take`, see ``tests/conftest.py``) and added to the table where reports are collected
(:func:`merge`): the same process in a plain run, the controller under ``pytest -n``.

When ``SEGMENTKIT_MATRIX_OUT`` names a file, the table is also written there (``make bench``
uses it to refresh the "Resilience matrix" section of ``benchmarks/RESULTS.md``); a plain
test run writes no file, so ``make test`` never dirties the work tree.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_lock = threading.Lock()
#: (provider, fault, operation) -> (requests, retries, outcome)
CELLS: dict[tuple[str, str, str], tuple[int, int, str]] = {}
#: Recorded by the running test, not yet handed to its report.
_PENDING: list[tuple[str, str, str, int, int, str]] = []


def record(
    provider: str, fault: str, operation: str, requests: int, retries: int, outcome: str
) -> None:
    with _lock:
        _PENDING.append((provider, fault, operation, requests, retries, outcome))


def take() -> list[tuple[str, str, str, int, int, str]]:
    """The cells recorded since the last call (plain tuples: they travel in a test report)."""
    with _lock:
        cells = list(_PENDING)
        _PENDING.clear()
    return cells


def merge(cells: list[tuple[str, str, str, int, int, str]]) -> None:
    """Add cells from a test report to the table."""
    with _lock:
        for provider, fault, operation, requests, retries, outcome in cells:
            CELLS[(provider, fault, operation)] = (requests, retries, outcome)


def render() -> str:
    with _lock:
        cells = dict(sorted(CELLS.items()))
    if not cells:
        return ""
    lines = [
        "| provider | fault (20%) | operation | requests | retries | outcome |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p} | {f} | {op} | {n} | {r} | {outcome} |"
        for (p, f, op), (n, r, outcome) in cells.items()
    ]
    text = "\n".join(lines)
    out = os.environ.get("SEGMENTKIT_MATRIX_OUT")
    if out:
        Path(out).write_text(text + "\n")
    return text
