"""segmentkit adapter for 66text SMS platforms (notificatorsms.com, invionotifiche.it, …).

Registered under the provider id ``notificator``; connect with
``segmentkit.connect("notificator://API_KEY@notificatorsms.com")``. The test fake lives in
:mod:`segmentkit_notificator.fake`.
"""

from __future__ import annotations

from .provider import NotificatorProvider

__all__ = ["NotificatorProvider"]
