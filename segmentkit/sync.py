"""Membership sync (plan, then apply) and cross-provider copy.

``client.recipients.sync(segment_id, desired)`` diffs the desired recipients against the
segment's members by the channel's identity (E.164 phone for ``sms``, normalised email for
``email``) and applies only the difference, so a second run with the same input sends no
write. :func:`copy_segment` reads one segment and syncs it into a segment on another client,
reporting every source member that lacks the destination's identity as ``rejected``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import InvalidRecipientError, UnsupportedOperationError
from .models import BulkResult, Capability, ItemOutcome, OutcomeStatus, Recipient, SegmentKind
from .provider import progress_reporter

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "Progress",
    "SyncPlan",
    "SyncResult",
    "apply_plan",
    "copy_segment",
    "plan_sync",
    "sync_segment",
]

#: ``progress(phase, done, total)``: phase is "reading", "adding" or "removing".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SyncPlan:
    """What a sync will do. ``rejected`` items carry the reason they cannot be synced."""

    to_add: list[Recipient] = field(default_factory=list)
    to_remove: list[Recipient] = field(default_factory=list)
    unchanged: list[Recipient] = field(default_factory=list)
    rejected: list[ItemOutcome] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Number of writes-worth of items: additions plus removals."""
        return len(self.to_add) + len(self.to_remove)


@dataclass(frozen=True)
class SyncResult:
    """The plan, and what applying it did (``None`` for a dry run)."""

    segment_id: str
    provider: str
    plan: SyncPlan
    dry_run: bool
    added: BulkResult | None = None
    removed: BulkResult | None = None
    materialized: bool = False
    created: bool = False
    notes: tuple[str, ...] = ()
    #: The channel whose identity the plan was made on (``"sms"`` → phone, ``"email"``).
    channel: str | None = None

    @property
    def outcomes(self) -> list[ItemOutcome]:
        """Every outcome: rejected inputs, then additions, then removals (unchanged members
        are listed with status ``unchanged``)."""
        out = list(self.plan.rejected)
        out += [
            ItemOutcome(
                index=-1, status=OutcomeStatus.unchanged, recipient=r, reason="already a member"
            )
            for r in self.plan.unchanged
        ]
        for bulk in (self.added, self.removed):
            if bulk is not None:
                out.extend(bulk.items)
        return out

    @property
    def failed(self) -> list[ItemOutcome]:
        """Writes that did not succeed after retries."""
        return [o for o in self.outcomes if o.status is OutcomeStatus.failed]

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was rejected."""
        return not self.failed and not self.plan.rejected

    def counts(self) -> dict[str, int]:
        """Outcome counts (for a dry run: what would be added and removed)."""
        if self.dry_run:
            return {
                "to_add": len(self.plan.to_add),
                "to_remove": len(self.plan.to_remove),
                "unchanged": len(self.plan.unchanged),
                "rejected": len(self.plan.rejected),
            }
        totals = {s.value: 0 for s in OutcomeStatus}
        for o in self.outcomes:
            totals[o.status.value] += 1
        return totals

    def summary(self) -> str:
        """A one-line summary such as ``added 3, unchanged 10, rejected 1``."""
        parts = [f"{k} {v}" for k, v in self.counts().items() if v]
        prefix = "dry run: " if self.dry_run else ""
        return prefix + (", ".join(parts) or "nothing to do")


def _validate(
    client: Client, desired: Iterable[Any], default_region: str | None
) -> tuple[dict[str, Recipient], list[ItemOutcome]]:
    channel = client.channel
    adapter = client.adapter
    wanted: dict[str, Recipient] = {}
    rejected: list[ItemOutcome] = []
    for i, item in enumerate(desired):
        try:
            r = Recipient.parse(item, default_region=default_region)
        except InvalidRecipientError as exc:
            rejected.append(
                ItemOutcome(index=i, status=OutcomeStatus.rejected, reason=exc.reason, input=item)
            )
            continue
        ident = r.identity(channel)
        if ident is None:
            need = "phone number (E.164)" if channel == "sms" else "email address"
            rejected.append(
                ItemOutcome(
                    index=i,
                    status=OutcomeStatus.rejected,
                    recipient=r,
                    input=item,
                    reason=f"no {need}, which {client.provider} needs",
                )
            )
            continue
        problem = adapter.recipient_problem(r)
        if problem:
            rejected.append(
                ItemOutcome(
                    index=i, status=OutcomeStatus.rejected, recipient=r, input=item, reason=problem
                )
            )
            continue
        wanted.setdefault(ident, r)
    return wanted, rejected


def plan_sync(
    client: Client,
    current: Iterable[Recipient],
    desired: Iterable[Any],
    *,
    remove_extra: bool = True,
    default_region: str | None = None,
) -> SyncPlan:
    """Diff ``desired`` against ``current`` by the client's channel identity (no requests)."""
    wanted, rejected = _validate(client, desired, default_region)
    channel = client.channel
    have: dict[str, Recipient] = {}
    for r in current:
        ident = r.identity(channel)
        if ident is not None:
            have.setdefault(ident, r)
    to_add = [r for k, r in wanted.items() if k not in have]
    unchanged = [have[k] for k in wanted if k in have]
    to_remove = [r for k, r in have.items() if k not in wanted] if remove_extra else []
    return SyncPlan(to_add=to_add, to_remove=to_remove, unchanged=unchanged, rejected=rejected)


def _apply(
    client: Client, segment_id: str, plan: SyncPlan, progress: Progress | None
) -> tuple[BulkResult | None, BulkResult | None]:
    added = removed = None
    for phase, items in (("adding", plan.to_add), ("removing", plan.to_remove)):
        if not items:
            continue
        done = [0]
        total = len(items)

        def report(n: int, phase: str = phase, done: list[int] = done, total: int = total) -> None:
            done[0] = min(total, done[0] + n)
            if progress is not None:
                progress(phase, done[0], total)

        token = progress_reporter.set(report)
        try:
            if progress is not None:
                progress(phase, 0, total)
            if phase == "adding":
                added = client.recipients.add(segment_id, items)
            else:
                removed = client.recipients.remove(segment_id, items)
            if progress is not None:
                progress(phase, total, total)
        finally:
            progress_reporter.reset(token)
    return added, removed


def apply_plan(
    client: Client, segment_id: str, plan: SyncPlan, *, progress: Progress | None = None
) -> SyncResult:
    """Apply a plan made earlier (e.g. shown to a user by a dry run) without reading the
    segment again. Members changed since the plan was made are handled by the adapters'
    add/remove (already present → ``unchanged``, already gone → ``unchanged``); a later
    sync converges."""
    added, removed = _apply(client, segment_id, plan, progress)
    return SyncResult(
        channel=client.channel,
        segment_id=segment_id,
        provider=client.provider,
        plan=plan,
        dry_run=False,
        added=added,
        removed=removed,
    )


def sync_segment(
    client: Client,
    segment_id: str,
    desired: Iterable[Any],
    *,
    remove_extra: bool = True,
    dry_run: bool = False,
    default_region: str | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Make ``segment_id``'s members equal ``desired`` (see the module docstring)."""
    # What the adapter cannot do is refused before any request.
    client._require(Capability.list_recipients, "listing recipients")
    if not dry_run:
        client._require(Capability.add_recipients, "adding recipients")
        if remove_extra:
            client._require(Capability.remove_recipients, "removing recipients")
    segment = client.segments.get(segment_id)
    if segment.kind is SegmentKind.dynamic:
        raise UnsupportedOperationError(
            client.provider,
            f"syncing members of dynamic segment {segment.name!r}",
            "Its members follow its rules; change the rules, or sync a static segment.",
        )
    if progress is not None:
        progress("reading", 0, segment.recipient_count or 0)
    current = list(client.recipients.list(segment_id))
    if progress is not None:
        progress("reading", len(current), len(current))
    plan = plan_sync(
        client, current, desired, remove_extra=remove_extra, default_region=default_region
    )
    if dry_run:
        return SyncResult(
            segment_id=segment_id,
            provider=client.provider,
            plan=plan,
            dry_run=True,
            channel=client.channel,
        )
    return apply_plan(client, segment_id, plan, progress=progress)


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
    progress: Progress | None = None,
) -> SyncResult:
    """Copy the members of ``segment_id`` on ``src`` into a segment on ``dst``.

    With ``target_segment_id`` the members are synced into that segment (``remove_extra``
    also removes target members missing from the source). Without it a static segment named
    ``name`` (default: the source's name) is created where ``dst`` can create segments; else
    :class:`UnsupportedOperationError` says to pass a target. Members lacking ``dst``'s
    identity are ``rejected`` with the reason, never dropped silently. A dynamic source is
    materialised as its current members, and the result says so.
    """
    src._require(Capability.list_recipients, "listing recipients")
    if target_segment_id is None:
        if Capability.create_segment not in dst.capabilities:
            raise UnsupportedOperationError(
                dst.provider,
                "creating a segment",
                "Create the target segment in the platform's web app and pass target_segment_id.",
            )
    elif not dry_run:
        dst._require(Capability.add_recipients, "adding recipients")
    source = src.segments.get(segment_id)
    materialized = source.kind is SegmentKind.dynamic
    notes: list[str] = []
    if materialized:
        notes.append(
            f"source {source.name!r} is dynamic: copied its current members, not its rules"
        )
    if progress is not None:
        progress("reading", 0, source.recipient_count or 0)
    members = [_portable(r) for r in src.recipients.list(segment_id)]
    if progress is not None:
        progress("reading", len(members), len(members))
    # What every answer below shares; each branch fills in the rest.
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
        current = list(dst.recipients.list(target_segment_id))
        plan = plan_sync(dst, current, members, remove_extra=remove_extra)
        if dry_run:
            return replace(base, plan=plan)
        added, removed = _apply(dst, target_segment_id, plan, progress)
        return replace(base, plan=plan, added=added, removed=removed)
    plan = plan_sync(dst, [], members, remove_extra=False)
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
