"""The adapter side of segmentkit: what an adapter declares and implements.

:class:`Provider` (:mod:`segmentkit.adapter.base`) is the base class with the documented
adapter API; :mod:`segmentkit.adapter.stores` holds the three membership shapes.
"""

from __future__ import annotations

from .base import NoSettings, Provider, SegmentChange, SegmentDraft
from .stores import (
    AlreadyMember,
    BatchStore,
    ItemResult,
    MemberSet,
    MemberSetStore,
    PerMemberStore,
    Refusal,
    store_shape,
)

__all__ = [
    "AlreadyMember",
    "BatchStore",
    "ItemResult",
    "MemberSet",
    "MemberSetStore",
    "NoSettings",
    "PerMemberStore",
    "Provider",
    "Refusal",
    "SegmentChange",
    "SegmentDraft",
    "store_shape",
]
