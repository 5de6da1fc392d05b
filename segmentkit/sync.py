"""Membership sync and cross-provider copy (0.1 import path, kept for one release).

The code lives in :mod:`segmentkit.membership.plan` and :mod:`segmentkit.copy`.
``client.recipients.sync(segment_id, desired)`` diffs the desired recipients against the
segment's members by the channel's identity and applies only the difference, so a second run
with the same input sends no write.
"""

from __future__ import annotations

from .copy import copy_segment
from .membership.plan import Held, SyncPlan, SyncResult, apply_plan, plan_sync, sync_segment
from .membership.progress import Progress, ProgressCallback

__all__ = [
    "Held",
    "Progress",
    "ProgressCallback",
    "SyncPlan",
    "SyncResult",
    "apply_plan",
    "copy_segment",
    "plan_sync",
    "sync_segment",
]
