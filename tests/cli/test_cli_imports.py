"""`segmentkit --help` stays light (issue 14): it loads click and the CLI's own modules, not
the test kit (werkzeug, responses), not rich (loaded to render output) and not the client
stack (pydantic, requests, the adapters), which commands load when they run.

Measured in a fresh interpreter, so nothing this test process imported can hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = r"""
import json, sys
from segmentkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stderr.write("\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\n")
"""

_NEVER_FOR_HELP = (
    "werkzeug",
    "responses",
    "segmentkit.testing",
    "rich",
    "pydantic",
    "requests",
    "segmentkit.client",
    "segmentkit.models",
    "segmentkit.sync",
    "phonenumbers",
    "email_validator",
)


def _loaded(*argv: str) -> tuple[int, set[str], str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    marker = [line for line in out.stderr.splitlines() if line.startswith("MODULES ")]
    assert marker, out.stderr[-2000:]
    data = json.loads(marker[-1][len("MODULES ") :])
    return data["code"], set(data["modules"]), out.stdout


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules if any(m == top or m.startswith(top + ".") for top in _NEVER_FOR_HELP)
    )


@pytest.mark.parametrize("argv", [("--help",), ("sync", "--help"), ("demo", "--help")])
def test_help_imports_neither_the_test_kit_nor_the_client_stack(argv: tuple[str, ...]) -> None:
    code, modules, stdout = _loaded(*argv)
    assert code == 0
    assert "Usage:" in stdout
    assert "click" in modules  # it did load the CLI
    assert "segmentkit.cli.commands" in modules
    assert _heavy(modules) == []


def test_a_command_that_renders_still_loads_what_it_needs() -> None:
    # The probe can see imports: `providers` draws the capability matrix with rich from
    # the registry, so the client stack and rich must show up here (the test above would
    # otherwise pass for a CLI that imports nothing at all).
    code, modules, stdout = _loaded("providers")
    assert code == 0, stdout
    assert {"rich", "segmentkit.models", "segmentkit.plugins"} <= modules
    assert "notificator" in stdout
