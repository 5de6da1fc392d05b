"""The host backend: runtime directory safety, budget semantics, files on disk."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from segmentkit import ConfigurationError, LockTimeoutError
from segmentkit.coordination import scope_key
from segmentkit.coordination.host import HostCoordinator, runtime_dir


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_runtime_dir_is_private_under_xdg_runtime_dir(tmp_path: Path) -> None:
    path = runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert path == tmp_path / "segmentkit"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_runtime_dir_falls_back_to_a_per_user_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    path = runtime_dir({})
    assert path.parent == tmp_path
    assert path.name == f"segmentkit-{os.getuid()}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_world_writable_runtime_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "segmentkit").mkdir()
    (tmp_path / "segmentkit").chmod(0o777)
    with pytest.raises(ConfigurationError, match="chmod 700"):
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})


def test_runtime_dir_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    real = os.getuid()
    (tmp_path / f"segmentkit-{real + 4242}").mkdir(mode=0o700)  # made by `real`
    monkeypatch.setattr(os, "getuid", lambda: real + 4242)
    with pytest.raises(ConfigurationError, match="another user"):
        runtime_dir({})


def test_xdg_runtime_dir_of_another_user_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """e.g. ``sudo`` keeping the caller's XDG_RUNTIME_DIR: fall back to the temp dir."""
    (tmp_path / "xdg").mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 4242)
    with pytest.raises(ConfigurationError, match="another user"):  # its own check still runs
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path / "xdg")})
    assert not (tmp_path / "xdg" / "segmentkit").exists()
    assert (tmp_path / "tmp" / f"segmentkit-{real + 4242}").is_dir()


def test_symlinked_runtime_dir_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "segmentkit").symlink_to(target)
    with pytest.raises(ConfigurationError, match="symlink"):
        runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})


def test_explicit_directory_is_checked_too(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigurationError):
        HostCoordinator(shared)


def test_budget_matches_the_local_semantics(host_dir: Path) -> None:
    clock = _Clock()
    budget = HostCoordinator(host_dir, clock=clock).budget("s", limit=3, window=10.0)
    assert [budget.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [budget.reserve() for _ in range(3)] == [10.0, 10.0, 10.0]
    clock.now += 10.0
    assert budget.reserve() == 10.0


def test_budget_state_is_shared_by_coordinators(host_dir: Path) -> None:
    """Two instances (as two processes would be) share one log through the state file."""
    clock = _Clock()
    one = HostCoordinator(host_dir, clock=clock).budget("s", limit=2, window=5.0)
    two = HostCoordinator(host_dir, clock=clock).budget("s", limit=2, window=5.0)
    assert [one.reserve(), two.reserve(), one.reserve()] == [0.0, 0.0, 5.0]
    two.block_until(clock.now + 30)
    assert one.reserve() == 30.0


def test_budget_is_exact_under_threads(host_dir: Path) -> None:
    coord = HostCoordinator(host_dir, clock=_Clock())
    waits: list[float] = []
    guard = threading.Lock()

    def take() -> None:
        w = HostCoordinator(host_dir, clock=coord._clock).budget("a", limit=10, window=60.0)
        got = w.reserve()
        with guard:
            waits.append(got)

    threads = [threading.Thread(target=take) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(waits) == [0.0] * 10 + [60.0] * 10 + [120.0] * 10


def test_unreadable_state_is_reset_not_fatal(host_dir: Path) -> None:
    clock = _Clock()
    budget = HostCoordinator(host_dir, clock=clock).budget("s", limit=1, window=5.0)
    assert budget.reserve() == 0.0
    (state,) = host_dir.glob("budget-*.json")
    state.write_text("{not json")
    assert budget.reserve() == 0.0


def test_lock_times_out_and_excludes_threads(host_dir: Path) -> None:
    coord = HostCoordinator(host_dir)
    other = HostCoordinator(host_dir)
    with coord.lock("seg") as lease, pytest.raises(LockTimeoutError) as info:
        lease.check()
        with other.lock("seg", timeout=0.1):
            pass
    assert info.value.scope == "seg"
    with other.lock("seg", timeout=1):
        pass


def test_files_are_private_and_named_by_hash(host_dir: Path) -> None:
    coord = HostCoordinator(host_dir)
    with coord.lock("notificator|KEY-123|seg 7"):
        pass
    coord.budget("notificator|KEY-123", limit=5, window=1.0).reserve()
    names = sorted(p.name for p in host_dir.iterdir())
    assert names, "nothing written"
    for p in host_dir.iterdir():
        assert "KEY-123" not in p.name
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, (p.name, oct(p.stat().st_mode))
    assert any(scope_key("lock", "notificator|KEY-123|seg 7") in n for n in names)
