"""Prints the resilience matrix (fault x operation → requests, retries, outcome) after the
run, outside output capture, so it shows with or without ``-s``."""

from __future__ import annotations

from typing import Any

from . import matrix_table


def pytest_terminal_summary(terminalreporter: Any) -> None:
    text = matrix_table.render()
    if text:
        terminalreporter.write_sep("=", "resilience matrix")
        terminalreporter.write_line(text)
