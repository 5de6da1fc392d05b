"""examples/workers/pool.py --demo: a spawn pool syncing shards into one segment loses nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workers" / "pool.py"


@pytest.mark.slow
@pytest.mark.alone  # "429s 0" over a 3 s window: not beside other tests (see the Makefile)
@pytest.mark.timeout(200)
def test_pool_demo_with_host_coordination(tmp_path: Path) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": "/usr/bin:/bin",
        "XDG_RUNTIME_DIR": str(runtime),
        "PYTHONPATH": str(EXAMPLE.parents[2]),
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--demo", "--workers", "3", "--coordination", "host"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lost 0; 429s 0" in done.stdout
