"""The ``segmentkit`` command line (install the ``cli`` extra: click and rich).

Only this package imports click and rich, so ``import segmentkit`` never needs them.
"""

from __future__ import annotations

from . import commands, demo
from .app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli, main

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli", "commands", "demo", "main"]
