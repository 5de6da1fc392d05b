"""``python -m segmentkit``: the same as the ``segmentkit`` command."""

from __future__ import annotations

from segmentkit.cli import main

if __name__ == "__main__":
    main()
