"""The optional backends stay off the core import path; the Redis fixture's CI rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from . import conftest


def test_core_import_loads_neither_filelock_nor_redis() -> None:
    code = (
        "import sys, segmentkit, segmentkit.coordination\n"
        "segmentkit.coordination.get_coordinator('local')\n"
        "print(sorted(m for m in ('filelock', 'redis') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_missing_redis_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        conftest._need_redis()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        conftest._need_redis()
