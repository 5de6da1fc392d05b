"""Cross-provider copy: the only module that takes two clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import UnsupportedOperationError
from .membership.plan import (
    SyncPlan,
    SyncResult,
    apply_plan,
    plan_sync,
    read_members,
    require,
)
from .membership.progress import Progress, ProgressCallback, Reporter
from .models import BulkResult, Capability, ItemOutcome, OutcomeStatus, Recipient, SegmentKind

if TYPE_CHECKING:
    from .client import Client

__all__ = ["copy_segment"]


def _portable(r: Recipient) -> Recipient:
    """A source member as input for another platform: its provider id and raw object stay
    behind (they mean nothing there)."""
    return r.model_copy(update={"id": None, "raw": {}})


def copy_segment(
    src: Client,
    segment_id: str,
    dst: Client,
    *,
    target_segment_id: str | None = None,
    name: str | None = None,
    remove_extra: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SyncResult:
    """Copy the members of ``segment_id`` on ``src`` into a segment on ``dst``.

    With ``target_segment_id`` the members are synced into that segment (``remove_extra``
    also removes target members missing from the source — never one a rejected source member
    may name, and none at all when an addition failed: those are reported as ``held``).
    Without it a static segment named ``name`` (default: the source's name) is created where
    ``dst`` can create segments, else :class:`UnsupportedOperationError` says to pass a
    target; when no member can be copied no segment is created and a note says so. Members
    lacking ``dst``'s identity are ``rejected`` with the reason, never dropped silently. A
    dynamic source is materialised as its current members, and the result says so.
    """
    sa, da = src.adapter, dst.adapter
    require(sa, Capability.list_recipients, "listing recipients")
    if target_segment_id is None:
        if Capability.create_segment not in da.capabilities():
            raise UnsupportedOperationError(
                dst.provider,
                "creating a segment",
                "Create the target segment in the platform's web app and pass target_segment_id.",
            )
    elif not dry_run:
        require(da, Capability.add_recipients, "adding recipients")
    source = src.segments.get(segment_id)
    materialized = source.kind is SegmentKind.dynamic
    notes: list[str] = []
    if materialized:
        notes.append(
            f"source {source.name!r} is dynamic: copied its current members, not its rules"
        )
    reporter = Reporter(progress, on_progress)
    reporter.start("reading", source.recipient_count or 0)
    members = [_portable(r) for r in read_members(sa, str(segment_id))]
    reporter.total = len(members)
    reporter.finish()
    base = SyncResult(
        channel=dst.channel,
        segment_id=target_segment_id or "",
        provider=dst.provider,
        plan=SyncPlan(),
        dry_run=dry_run,
        materialized=materialized,
        notes=tuple(notes),
    )
    if target_segment_id is not None:
        target = dst.segments.get(target_segment_id)
        if target.kind is SegmentKind.dynamic:
            raise UnsupportedOperationError(
                dst.provider,
                f"copying into dynamic segment {target.name!r}",
                "Its members follow its rules; pick a static target segment.",
            )
        current = read_members(da, str(target_segment_id))
        plan = plan_sync(da, current, members, remove_extra=remove_extra)
        if dry_run:
            return replace(base, plan=plan, held=tuple(plan.held))
        return apply_plan(
            da,
            str(target_segment_id),
            plan,
            progress=progress,
            on_progress=on_progress,
            hold_removals_on_failure=True,
            base=base,
        )
    plan = plan_sync(da, [], members, remove_extra=False)
    if not plan.to_add:
        why = (
            f"none of the {len(members)} source members can be stored on {dst.provider}"
            if members
            else "the source segment has no members"
        )
        return replace(base, plan=plan, notes=(*base.notes, f"no segment created: {why}"))
    if dry_run:
        return replace(base, plan=plan)
    created = dst.segments.create(name or source.name, recipients=plan.to_add)
    added = BulkResult(
        items=tuple(
            ItemOutcome(index=i, status=OutcomeStatus.added, recipient=r)
            for i, r in enumerate(plan.to_add)
        )
    )
    return replace(base, segment_id=created.id, plan=plan, added=added, created=True)
