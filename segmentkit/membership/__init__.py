"""The membership core: intake, the engine over the three store shapes, resolve, sync plans.

Public names: :class:`Interrupted` (a ``KeyboardInterrupt`` carrying ``.result``, the partial
``BulkResult``/``SyncResult``), :class:`Progress`, :func:`segment_lock`, and the sync types.
"""

from __future__ import annotations

from .engine import Interrupted, segment_lock
from .intake import Admission, Policy, admit
from .plan import Held, SyncPlan, SyncResult, apply_plan, plan_sync, sync_segment
from .progress import Progress, ProgressCallback

__all__ = [
    "Admission",
    "Held",
    "Interrupted",
    "Policy",
    "Progress",
    "ProgressCallback",
    "SyncPlan",
    "SyncResult",
    "admit",
    "apply_plan",
    "plan_sync",
    "segment_lock",
    "sync_segment",
]
