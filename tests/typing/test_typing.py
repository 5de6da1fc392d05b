"""Typing as a user sees it (issue 16): ``mypy --strict`` over a small user program passes,
and over a program with typical mistakes reports each one at its line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytest.importorskip("mypy", reason="the typing test needs mypy (the dev dependency group)")


def mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--show-error-codes",
            "--no-error-summary",
            *map(str, paths),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One mypy run over both programs (each run re-analyses segmentkit and pydantic: most of
    the time of this test), shared by the workers of one ``pytest -n`` run: the first to get
    here runs it, the others read its result (the base temp directory's parent is the run's)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    stored = shared / "typing-mypy-result.json"
    with FileLock(str(stored) + ".lock", timeout=900):
        if not stored.exists():
            proc = mypy(HERE / "user_program.py", HERE / "expected_errors.py")
            fields = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
            stored.write_text(json.dumps(fields), encoding="utf-8")
        fields = json.loads(stored.read_text(encoding="utf-8"))
    return subprocess.CompletedProcess(["mypy"], **fields)


def test_user_program_passes_mypy_strict(checked):
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    # Every error reported belongs to the file of expected mistakes.
    others = [
        line
        for line in checked.stdout.splitlines()
        if ": error:" in line and "expected_errors.py" not in line
    ]
    assert not others, checked.stdout


def test_mypy_strict_catches_each_expected_mistake_at_its_line(checked):
    source = (HERE / "expected_errors.py").read_text(encoding="utf-8").splitlines()
    expected = {
        n: line.split("# E:", 1)[1].strip() for n, line in enumerate(source, 1) if "# E:" in line
    }
    assert len(expected) == 8
    proc = checked
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors: dict[int, list[str]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r".*expected_errors\.py:(\d+): error: (.*)", line)
        if m:
            errors.setdefault(int(m.group(1)), []).append(m.group(2))
    for n, text in expected.items():
        assert any(text in e for e in errors.get(n, [])), f"line {n}: no error {text!r}: {errors}"
    assert set(errors) == set(expected), f"unexpected errors: {errors}"
