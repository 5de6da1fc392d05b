"""Membership sync: plan (pure), then apply — without importing ``Client``.

``plan_sync`` diffs the desired recipients against the current members by the channel's
identity (E.164 phone for ``sms``, lower-cased email for ``email``). With ``remove_extra`` a
member is planned for removal only when the desired input *provably* does not name it: a
desired row that was rejected but still names an identity (an e-mail-only row on allstech, a
national-format phone without a default region, a raw id) protects the member it names, and a
rejected row that names nothing recognisable makes every removal unprovable. Such members are
not removed; they are reported in :attr:`SyncPlan.held` with the reason (issue 12 §1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOperationError
from ..models import BulkResult, Capability, Channel, ItemOutcome, OutcomeStatus, Recipient
from ..models import SegmentKind as _Kind
from . import engine
from .intake import Admission, Policy, admit
from .progress import Progress, ProgressCallback, Reporter

if TYPE_CHECKING:
    from ..provider import Provider

__all__ = [
    "Held",
    "SyncPlan",
    "SyncResult",
    "apply_plan",
    "plan_sync",
    "sync_segment",
]

_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class Held:
    """A member a sync would have removed but did not, and why."""

    recipient: Recipient
    reason: str


@dataclass(frozen=True)
class SyncPlan:
    """What a sync will do; also what a dry run answers.

    ``rejected`` items carry the reason they cannot be synced; ``held`` lists members that
    look extra but are not removed because the input may still name them.
    ``requests_estimate`` and ``estimated_seconds`` (from the platform's declared rate limit,
    ``None`` when unknown) say what applying it will cost.
    """

    to_add: list[Recipient] = field(default_factory=list)
    to_remove: list[Recipient] = field(default_factory=list)
    unchanged: list[Recipient] = field(default_factory=list)
    rejected: list[ItemOutcome] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    requests_estimate: int | None = None
    estimated_seconds: float | None = None
    segment_id: str = ""
    provider: str = ""
    channel: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def changes(self) -> int:
        """Number of writes-worth of items: additions plus removals."""
        return len(self.to_add) + len(self.to_remove)

    # -- the dry-run view (the same questions a SyncResult answers)

    @property
    def plan(self) -> SyncPlan:
        """The plan itself (so a dry run and a result read alike)."""
        return self

    dry_run = True
    created = False
    materialized = False
    added: BulkResult | None = None
    removed: BulkResult | None = None

    @property
    def outcomes(self) -> list[ItemOutcome]:
        """The rejected inputs (nothing else has happened yet)."""
        return list(self.rejected)

    @property
    def failed(self) -> list[ItemOutcome]:
        """Nothing has been written: always empty."""
        return []

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected

    def counts(self) -> dict[str, int]:
        """What would be added, removed, kept, rejected and held."""
        out = {
            "to_add": len(self.to_add),
            "to_remove": len(self.to_remove),
            "unchanged": len(self.unchanged),
            "rejected": len(self.rejected),
        }
        if self.held:
            out["held"] = len(self.held)
        return out

    def summary(self) -> str:
        """A one-line summary such as ``dry run: to_add 3, unchanged 10``."""
        parts = [f"{k} {v}" for k, v in self.counts().items() if v]
        return "dry run: " + (", ".join(parts) or "nothing to do")


@dataclass(frozen=True)
class SyncResult:
    """The plan, and what applying it did.

    ``held`` lists members not removed, with the reason (the plan's, plus removals held at
    apply time, e.g. after an interrupt or, for a copy, failed additions).
    """

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
    held: tuple[Held, ...] = ()

    @property
    def outcomes(self) -> list[ItemOutcome]:
        """Every outcome: rejected inputs, then unchanged members, additions, removals."""
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
        """Outcome counts (for a dry run: what would be added and removed); ``held`` is
        present when members were held back."""
        if self.dry_run:
            out = self.plan.counts()
        else:
            out = {s.value: 0 for s in OutcomeStatus}
            for o in self.outcomes:
                out[o.status.value] += 1
        held = len(self.held) if not self.dry_run else len(self.plan.held)
        if held:
            out["held"] = held
        return out

    def summary(self) -> str:
        """A one-line summary such as ``added 3, unchanged 10, rejected 1, held 2``."""
        parts = [f"{k} {v}" for k, v in self.counts().items() if v]
        prefix = "dry run: " if self.dry_run else ""
        return prefix + (", ".join(parts) or "nothing to do")


# ---------------------------------------------------------------------------------- planning


def _national(phone: str) -> str | None:
    import phonenumbers  # lazily: `import segmentkit` stays light (issue 14)

    try:
        return str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        return None


def _names(member: Recipient, hints: frozenset[str]) -> bool:
    """Whether a rejected row's ``hints`` may name ``member``."""
    if member.email and member.email.lower() in hints:
        return True
    if member.id and f"id:{member.id}" in hints:
        return True
    if member.phone:
        digits = "".join(_DIGITS.findall(member.phone))
        if f"#{digits}" in hints:
            return True
        national = _national(member.phone)
        if national and len(national) >= 6:
            for h in hints:
                if h.startswith("#") and len(h) > 6 and h[1:].endswith(national):
                    return True
    return False


def _guard_removals(extra: list[Recipient], adm: Admission) -> tuple[list[Recipient], list[Held]]:
    """Split the removal candidates into provably-unnamed ones and held ones."""
    rejected = [
        (i, o) for i, o in sorted(adm.outcomes.items()) if o.status is OutcomeStatus.rejected
    ]
    if not rejected or not extra:
        return extra, []
    blind = [(i, o) for i, o in rejected if not adm.hints.get(i)]
    if blind:
        i, o = blind[0]
        more = f" (and {len(blind) - 1} more)" if len(blind) > 1 else ""
        reason = (
            f"desired row #{i} was rejected ({o.reason}) and names no identity{more}: removals "
            "are held because the input may still name this member"
        )
        return [], [Held(r, reason) for r in extra]
    keep: list[Recipient] = []
    held: list[Held] = []
    for r in extra:
        hit = next((i for i, _ in rejected if _names(r, adm.hints[i])), None)
        if hit is None:
            keep.append(r)
        else:
            held.append(
                Held(r, f"desired row #{hit} was rejected but names this member; not removed")
            )
    return keep, held


def _target(target: Any) -> tuple[Channel, str, Callable[[Recipient], str | None] | None]:
    if isinstance(target, str):
        return target, "", None  # type: ignore[return-value]
    adapter = getattr(target, "adapter", target)
    return adapter.channel, adapter.name, adapter.recipient_problem


def plan_sync(
    target: Any,
    current: Iterable[Recipient],
    desired: Iterable[Any],
    *,
    remove_extra: bool = True,
    default_region: str | None = None,
) -> SyncPlan:
    """Diff ``desired`` against ``current`` (no requests).

    ``target`` is a channel name (``"sms"``/``"email"``) or an adapter (or anything with an
    ``adapter``): then its ``recipient_problem`` is asked for the items to add.
    """
    channel, provider, problem = _target(target)
    adm = admit(
        desired,
        Policy(
            channel=channel,
            provider=provider or "the platform",
            mode="desired",
            default_region=default_region,
        ),
    )
    # One pass over each side; identities are plain strings (admit keyed the desired ones).
    have: dict[str, Recipient] = {}
    for r in current:
        ident = r.identity(channel)
        if ident is not None and ident not in have:
            have[ident] = r
    to_add: list[Recipient] = []
    unchanged: list[Recipient] = []
    wanted = set(adm.keys)  # desired mode: every key is a channel identity
    for pos, ident in enumerate(adm.keys):
        member = have.get(ident)
        if member is not None:
            unchanged.append(member)
            continue
        r = adm.recipient(pos)  # built only now: most of a large plan is unchanged (issue 14)
        reason = problem(r) if problem is not None else None
        if reason:
            i = adm.origin[pos]
            adm.outcomes[i] = ItemOutcome(
                index=i,
                status=OutcomeStatus.rejected,
                recipient=r,
                input=adm.items[i],
                reason=reason,
            )
            adm.hints[i] = frozenset({ident})
            continue
        to_add.append(r)
    held: list[Held] = []
    to_remove: list[Recipient] = []
    if remove_extra:
        to_remove, held = _guard_removals([r for k, r in have.items() if k not in wanted], adm)
    rejected = [o for _, o in sorted(adm.outcomes.items()) if o.status is OutcomeStatus.rejected]
    return SyncPlan(
        to_add=to_add,
        to_remove=to_remove,
        unchanged=unchanged,
        rejected=rejected,
        held=held,
        provider=provider,
        channel=channel,
    )


def _costed(adapter: Provider, plan: SyncPlan, segment_id: str) -> SyncPlan:
    requests = engine.estimate_requests(adapter, len(plan.to_add), "add")
    requests += engine.estimate_requests(adapter, len(plan.to_remove), "remove")
    declared = adapter.rate_limit  # a RateLimit declaration (or None), not a number
    # The same order as the session's pacer: an explicit option, the declared RateLimit, then
    # the adapter API 1.0 class attribute.
    window = adapter.transport.options.rate_limit_window or (declared.window if declared else None)
    window = window or adapter.rate_limit_window
    pacer = getattr(adapter.transport, "pacer", None)
    limit = getattr(pacer, "limit", None) or (declared.limit if declared else None)
    seconds = None
    if window and limit:
        seconds = max(0.0, (requests - limit) * float(window) / float(limit))
    return replace(
        plan,
        requests_estimate=requests,
        estimated_seconds=seconds,
        segment_id=segment_id,
        provider=adapter.name,
        channel=adapter.channel,
    )


# ---------------------------------------------------------------------------------- applying


def _bulk(
    adapter: Provider, items: Sequence[Recipient], op: engine.Op, reporter: Reporter
) -> tuple[Policy, Admission]:
    policy = Policy(channel=adapter.channel, provider=adapter.name, mode="remove")
    if op == "add":
        policy = replace(policy, mode="add", accepts_ids=True)
    return policy, admit(list(items), policy)


def apply_plan(
    adapter: Provider,
    segment_id: str,
    plan: SyncPlan,
    *,
    progress: ProgressCallback | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    hold_removals_on_failure: bool = False,
    base: SyncResult | None = None,
) -> SyncResult:
    """Apply a plan made earlier (e.g. shown by a dry run) without reading the segment again.
    Members changed since are handled by the engine (already present or already gone →
    ``unchanged``); a later sync converges. With ``hold_removals_on_failure`` (copy) no member
    is removed when any addition failed. Raises :class:`~segmentkit.membership.Interrupted`
    carrying the partial :class:`SyncResult` on Ctrl-C."""
    reporter = Reporter(progress, on_progress)
    result = base or SyncResult(
        channel=adapter.channel,
        segment_id=segment_id,
        provider=adapter.name,
        plan=plan,
        dry_run=False,
    )
    result = replace(result, plan=plan, dry_run=False, held=tuple(plan.held))
    added = removed = None
    try:
        if plan.to_add:
            _, adm = _bulk(adapter, plan.to_add, "add", reporter)
            added = engine.add(adapter, segment_id, adm, reporter)
        to_remove = list(plan.to_remove)
        if to_remove and hold_removals_on_failure and added is not None and added.failed:
            reason = (
                f"{len(added.failed)} additions failed; removals are held so the target never "
                "loses members it could not be verified to replace"
            )
            result = replace(result, held=result.held + tuple(Held(r, reason) for r in to_remove))
            to_remove = []
        if to_remove:
            _, adm = _bulk(adapter, to_remove, "remove", reporter)
            removed = engine.remove(adapter, segment_id, adm, reporter)
    except engine.Interrupted as exc:
        partial = exc.result if isinstance(exc.result, BulkResult) else None
        if added is None:
            added = partial
        else:
            removed = partial
        held = result.held
        if removed is None and plan.to_remove:
            held += tuple(Held(r, "interrupted before removals") for r in plan.to_remove)
        raise engine.Interrupted(replace(result, added=added, removed=removed, held=held)) from None
    return replace(result, added=added, removed=removed)


def read_members(adapter: Provider, segment_id: str) -> list[Recipient]:
    """Every member of a segment, across pages."""
    from ..provider import walk_pages

    return [
        r
        for page in walk_pages(lambda token: adapter.list_recipients(segment_id, token))
        for r in page.items
    ]


def require(adapter: Provider, cap: Capability, what: str) -> None:
    """Refuse, before any request, an operation the adapter cannot do."""
    if cap not in adapter.capabilities():
        raise adapter.unsupported(what)


def sync_segment(
    adapter: Provider,
    segment_id: str,
    desired: Iterable[Any],
    *,
    remove_extra: bool = True,
    dry_run: bool = False,
    default_region: str | None = None,
    progress: ProgressCallback | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SyncResult | SyncPlan:
    """Make ``segment_id``'s members equal ``desired``; with ``dry_run`` return the plan."""
    from .intake import as_items

    items = as_items(desired, "desired")  # a lone string is refused before any request
    require(adapter, Capability.list_recipients, "listing recipients")
    if not dry_run:
        require(adapter, Capability.add_recipients, "adding recipients")
        if remove_extra:
            require(adapter, Capability.remove_recipients, "removing recipients")
    segment = adapter.get_segment(segment_id)
    if segment.kind is _Kind.dynamic:
        raise UnsupportedOperationError(
            adapter.name,
            f"syncing members of dynamic segment {segment.name!r}",
            "Its members follow its rules; change the rules, or sync a static segment.",
        )
    reporter = Reporter(progress, on_progress)
    reporter.start("reading", segment.recipient_count or 0)
    current = read_members(adapter, segment_id)
    reporter.total = len(current)
    reporter.finish()
    plan = plan_sync(
        adapter, current, items, remove_extra=remove_extra, default_region=default_region
    )
    plan = _costed(adapter, plan, segment_id)
    if dry_run:
        return plan
    return apply_plan(adapter, segment_id, plan, progress=progress, on_progress=on_progress)
