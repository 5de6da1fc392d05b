"""The adapter side of segmentkit: what an adapter declares and implements.

:mod:`segmentkit.adapter.stores` holds the three membership shapes.
"""

from __future__ import annotations

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
    "PerMemberStore",
    "Refusal",
    "store_shape",
]
