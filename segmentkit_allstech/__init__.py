"""segmentkit adapter for the allstechnology e-mail marketing API (``allstech``).

Loaded through the ``segmentkit`` entry point ``allstech``; connect with
``segmentkit.connect("allstech://PUBLIC_KEY:SECRET_KEY@mail.allstechnology.com")``. The fake
platform for tests is :class:`segmentkit_allstech.fake.AllstechPlatform`.
"""

from __future__ import annotations

from .provider import AllstechProvider

__all__ = ["AllstechProvider"]
