"""The resilience matrix, re-run for RESULTS.md: every fault kind at 20% on every provider
(tests/resilience/test_matrix.py), its table copied into the "Resilience matrix" section."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._harness import CheckFailedError, Row, write_section

TITLE = "resilience matrix (fault x operation) from tests/resilience/test_matrix.py"
ROOT = Path(__file__).resolve().parents[1]


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "matrix.md"
        env = {**os.environ, "SEGMENTKIT_MATRIX_OUT": str(out)}
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/resilience/test_matrix.py",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        elapsed = time.perf_counter() - started
        summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        if proc.returncode != 0 or not out.exists():
            raise CheckFailedError(f"resilience matrix failed: {summary}")
        table = out.read_text()
    write_section("matrix", "## Resilience matrix\n\n" + table)
    cells = sum(1 for line in table.splitlines() if line.startswith("| ") and "---" not in line) - 1
    return [
        Row(
            name="matrix",
            ratio="all cells pass",
            figures=f"{cells} rows; {summary}",
            notes=f"{elapsed:.0f} s",
        )
    ]
