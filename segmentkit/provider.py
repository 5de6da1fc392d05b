"""Old home of the adapter base class, kept as a re-export for one release.

Import :class:`Provider` from :mod:`segmentkit.adapter` (``from segmentkit.adapter import
Provider``); this module will be removed in the next minor release.
"""

from __future__ import annotations

from .adapter.base import NoSettings, Provider, text_excerpt, walk_pages
from .http.session import IDEMPOTENT as _IDEMPOTENT

__all__ = ["NoSettings", "Provider", "text_excerpt", "walk_pages"]

_ = _IDEMPOTENT  # re-exported name of the old module
