"""The ``segmentkit`` command line (install the ``cli`` extra: click and rich).

Only this package imports click and rich, so ``import segmentkit`` never needs them; and
only ``segmentkit demo`` / ``segmentkit sandbox`` need the ``testing`` extra (they run the
fake platforms), imported when one of them runs.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli", "main"]

#: What each optional import is for, and the extra that installs it.
EXTRA_FOR = {"click": "cli", "rich": "cli", "werkzeug": "testing", "responses": "testing"}


def install_hint(missing: str) -> str:
    """The one line printed when an optional dependency is missing."""
    top = missing.split(".")[0]
    extra = EXTRA_FOR.get(top, "cli")
    return f'segmentkit: this needs {top!r}; install it with: pip install "segmentkit[{extra}]"'


def _load() -> Any:
    """Import the click application (and every command) on first use.

    rich is imported only when output is rendered (not for ``--help``), but the ``cli`` extra
    is checked here, whole: without rich, every command says which extra to install instead
    of failing later, half-way through its output."""
    import importlib.util

    if importlib.util.find_spec("rich") is None:  # found without importing it
        raise ModuleNotFoundError("No module named 'rich'", name="rich")
    app = importlib.import_module(".app", __name__)
    importlib.import_module(".commands", __name__)
    importlib.import_module(".demo", __name__)
    return app


def __getattr__(name: str) -> Any:
    if name in ("EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli"):
        return getattr(_load(), name)
    if name in ("app", "commands", "demo", "output", "accounts", "csvio"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``segmentkit = "segmentkit.cli:main"``).

    Without the ``cli`` extra it prints one install line and exits with status 1.
    """
    try:
        app = _load()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in EXTRA_FOR:
            print(install_hint(exc.name), file=sys.stderr)
            raise SystemExit(1) from None
        raise
    app.main(argv)
