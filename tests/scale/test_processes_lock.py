"""Issue 12 §1: three PROCESSES on one host adding to one 66text segment lose no member.

66text rewrites the whole member list on every change (API-SPEC §1.6), so concurrent
read-modify-writes from several processes lose members unless the segment lock is shared
across processes. The default coordination (``host``: a file lock in a per-user runtime
directory) must make every member reported ``added`` be there at the end, for ``custom`` and
``bulk`` segments. Before (each process locking alone, ``coordination="local"``) the same
workload lost members: see ``python -m tests.scale._lockload``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import _lockload


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("seg_type", ["custom", "bulk"])
def test_three_processes_on_one_host_lose_no_member(
    seg_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # inherited by the spawned workers
    monkeypatch.delenv("SEGMENTKIT_COORDINATION", raising=False)  # the default backend
    fig = _lockload.run(seg_type, None, tmp_path, per_worker=30, timeout=110)
    assert not fig.errors, fig.line()
    assert not fig.unfinished, fig.line()
    assert fig.added == _lockload.WORKERS * 30, fig.line()
    assert fig.lost == 0, fig.line()
