"""The ``host`` coordination backend: every process of one user on one machine.

Locks and budgets live in files of a per-user runtime directory (:func:`runtime_dir`):

* a segment lock is an OS file lock (``flock``/``LockFileEx`` through :mod:`filelock`) on
  ``lock-<hash>.lock``; the kernel releases it when its holder dies, even by ``SIGKILL``, so a
  dead worker never keeps a segment locked;
* a budget is a small JSON state file ``budget-<hash>.json`` holding the sliding log of
  reserved start times (and the time a 429 blocked the scope until), read and rewritten under
  its own file lock, so it is exact across processes — the same semantics as the ``local``
  backend's budget.

File names are one-way hashes of the scope (:func:`~segmentkit.coordination.scope_key`), so no
credential is ever written to disk. Files are created ``0600`` in a ``0700`` directory.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, CoordinationError
from . import Budget, Clock, _HeldLocks, _sane_block, scope_key

__all__ = ["HostCoordinator", "runtime_dir"]

log = logging.getLogger("segmentkit.coordination")

#: How long one budget operation may wait for the state file's lock. It is held only for a
#: read and a write of a few hundred bytes, so hitting this means something is badly wrong.
_STATE_LOCK_TIMEOUT = 30.0


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """The per-user directory the ``host`` backend keeps its files in (created ``0700``).

    ``$XDG_RUNTIME_DIR/segmentkit`` when ``XDG_RUNTIME_DIR`` names a directory of this user (a
    per-user tmpfs on most Linux desktops and servers), else ``segmentkit-<uid>`` under
    :func:`tempfile.gettempdir`.
    A directory owned by another user, a symlink, or one that others can write is refused
    with :class:`~segmentkit.ConfigurationError`: another user could otherwise hold our locks
    or forge our budgets.
    """
    env = os.environ if env is None else env
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and _is_own_dir(xdg):
        path = Path(xdg) / "segmentkit"
    else:
        user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
        path = Path(tempfile.gettempdir()) / f"segmentkit-{user}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigurationError(
            f"coordination 'host': cannot create its runtime directory {path}: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    _check_private(path, info)
    return path


def _is_own_dir(path: str) -> bool:
    """Whether ``path`` is a directory of ours (e.g. not the XDG dir ``sudo`` passed along)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(
            f"coordination 'host': {path} is not a directory (a symlink or a file is refused)"
        )
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: per-user temp dir, ACLs
        return
    if info.st_uid != os.getuid():
        raise ConfigurationError(
            f"coordination 'host': {path} belongs to another user (uid {info.st_uid}); "
            "remove it or set XDG_RUNTIME_DIR / TMPDIR to a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigurationError(
            f"coordination 'host': {path} can be written by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run chmod 700 on it"
        )


def _file_lock(path: Path, timeout: float) -> Any:
    from filelock import FileLock  # lazy: only the host backend needs it

    # thread_local=False: a lock taken by one thread may be released by another (the engine
    # may release from a worker thread); one object per acquisition, so no reentrancy.
    return FileLock(str(path), timeout=max(0.0, timeout), mode=0o600, thread_local=False)


class _HostBudget(Budget):
    """The local backend's sliding log, kept in a state file shared by every process."""

    def __init__(self, directory: Path, scope: str, limit: int, window: float, clock: Clock):
        self.limit = max(1, int(limit))
        self.window = float(window)
        self._clock = clock
        # One state file per scope and window, whatever the limit (see Budget).
        name = scope_key("budget", scope, repr(self.window))
        self._state = directory / f"budget-{name}.json"
        self._lockfile = directory / f"budget-{name}.lock"

    @contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        from filelock import Timeout

        lock = _file_lock(self._lockfile, _STATE_LOCK_TIMEOUT)
        try:
            lock.acquire()
        except Timeout:
            raise CoordinationError(
                f"coordination 'host': the budget state file stayed locked for "
                f"{_STATE_LOCK_TIMEOUT:g} s"
            ) from None
        except OSError as exc:
            raise CoordinationError(
                f"coordination 'host': cannot lock the budget state file: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        try:
            state = self._read()
            yield state
            self._write(state)
        finally:
            lock.release()

    def _read(self) -> dict[str, Any]:
        try:
            raw = self._state.read_bytes()
        except FileNotFoundError:
            return {"starts": [], "blocked_until": 0.0}
        except OSError as exc:
            raise CoordinationError(
                f"coordination 'host': cannot read the budget state: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        try:
            data = json.loads(raw)
            starts = [float(x) for x in data["starts"]]
            blocked = float(data["blocked_until"])
            learned = data.get("limit")
            limit = None if learned is None else max(1, int(learned))
            limit_until = float(data.get("limit_until", 0.0))
        except (ValueError, KeyError, TypeError, AttributeError):
            # Written by os.replace, so only a foreign or truncated-by-hand file gets here.
            log.warning("coordination 'host': unreadable budget state %s reset", self._state.name)
            return {"starts": [], "blocked_until": 0.0}
        state: dict[str, Any] = {"starts": starts, "blocked_until": blocked}
        if limit is not None:
            state["limit"] = limit
            state["limit_until"] = limit_until
        return state

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self._state.with_name(f"{self._state.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                json.dump(state, fh, separators=(",", ":"))
            os.replace(tmp, self._state)  # atomic: a crash never leaves half a log
        except OSError as exc:
            raise CoordinationError(
                f"coordination 'host': cannot write the budget state: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None

    def reserve(self) -> float:
        with self._locked_state() as state:
            now = self._clock()
            # Claims more than an hour ahead came from a garbage block (older versions): dropped.
            starts: list[float] = sorted(
                s for s in state["starts"] if now - self.window < s <= now + 3600.0
            )
            at: float = max(now, _sane_block(float(state["blocked_until"]), now))
            learned = state.get("limit") if now < state.get("limit_until", 0.0) else None
            limit: int = max(learned or 0, self.limit)  # a learned limit only frees
            if len(starts) >= limit:
                # The slot frees when the request `limit` places back leaves the window.
                at = max(at, starts[-limit] + self.window)
            starts.append(at)
            state["starts"] = starts
            return at - now

    def block_until(self, wall_time: float) -> None:
        wall_time = _sane_block(float(wall_time), self._clock())
        with self._locked_state() as state:
            state["blocked_until"] = max(float(state["blocked_until"]), float(wall_time))

    def learn(self, limit: int) -> None:
        with self._locked_state() as state:
            state["limit"] = max(1, int(limit))
            state["limit_until"] = self._clock() + 2 * self.window


class HostCoordinator(_HeldLocks):
    """Coordination between every process of this user on this machine (the default).

    ``directory`` defaults to :func:`runtime_dir`. Locks are released by the kernel when the
    holding process dies, so ``ttl`` is not needed (a live holder keeps its lock however long
    it takes; bound that with the operation's own timeouts).
    """

    name = "host"

    def __init__(self, directory: Path | str | None = None, *, clock: Clock = time.time) -> None:
        super().__init__()
        if directory is None:
            self.directory = runtime_dir()
        else:
            self.directory = Path(directory)
            try:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = os.lstat(self.directory)
            except OSError as exc:
                raise ConfigurationError(
                    f"coordination 'host': cannot create {self.directory}: "
                    f"{exc.strerror or type(exc).__name__}"
                ) from None
            _check_private(self.directory, info)
        self._clock = clock

    def _take(self, scope: str, timeout: float) -> Callable[[], None] | None:
        from filelock import Timeout

        lock = _file_lock(self.directory / f"lock-{scope_key('lock', scope)}.lock", timeout)
        try:
            lock.acquire()
        except Timeout:
            return None
        except OSError as exc:
            raise CoordinationError(
                f"coordination 'host': cannot take the lock file: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        release: Callable[[], None] = lock.release
        return release

    def _new_budget(self, scope: str, limit: int, window: float) -> Budget:
        return _HostBudget(self.directory, scope, limit, window, self._clock)
