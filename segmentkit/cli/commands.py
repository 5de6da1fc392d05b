"""The subcommands: providers, segments, recipients, export, sync and copy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigurationError, NotFoundError
from .accounts import parse_endpoint
from .app import EXIT_FAILED, Session, cli, json_option
from .csvio import (
    CsvTable,
    read_records,
    recipient_dict,
    recipients_to_csv,
    recipients_to_json,
)
from .output import Output, format_duration

if TYPE_CHECKING:
    # The client stack loads when a command runs, not for `segmentkit --help` (issue 14).
    from ..client import Client
    from ..models import ItemOutcome, Recipient, Segment
    from ..plugins import Registry
    from ..sync import SyncPlan, SyncResult

pass_session = click.make_pass_decorator(Session, ensure=True)

#: The columns of the capability matrix, in this order (``Capability`` values: the models
#: load when the matrix is drawn).
CAPABILITIES = (
    ("list_segments", "list"),
    ("get_segment", "get"),
    ("create_segment", "create"),
    ("update_segment", "update"),
    ("delete_segment", "delete"),
    ("list_recipients", "members"),
    ("add_recipients", "add"),
    ("remove_recipients", "remove"),
)


#: Published request limits (requests, window seconds) used to estimate durations when the
#: adapter advertises only its window: 66text 60 per 60 s per key (API-SPEC §1.4), allstech
#: 60 per minute per client IP (API-SPEC §2.7).
RATE_LIMITS: dict[str, tuple[int, float]] = {"notificator": (60, 60.0), "allstech": (60, 60.0)}


# -- shared helpers


def interactive() -> bool:
    """True when both stdin and stdout are terminals (a person can answer a question)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm_removals(session: Session, count: int, where: str, yes: bool) -> None:
    """On a terminal, ask before removing ``count`` members (``--yes`` skips the question);
    scripts (no terminal) are never asked."""
    if count <= 0 or yes or session.out.json_mode or not interactive():
        return
    click.confirm(f"Remove {count} member(s) from {where}?", abort=True)


def estimate(client: Client, plan: Any) -> tuple[int, float | None]:
    """(write requests, seconds) to apply ``plan``: at most one write per added or removed
    member (platforms that batch need fewer), paced at the platform's published limit
    (:data:`RATE_LIMITS`); ``None`` seconds when the limit is unknown."""
    hint = getattr(plan, "estimated_requests", None)
    requests_ = int(hint) if isinstance(hint, int) else len(plan.to_add) + len(plan.to_remove)
    seconds = getattr(plan, "estimated_seconds", None)
    if isinstance(seconds, int | float):
        return requests_, float(seconds)
    limit = RATE_LIMITS.get(client.provider)
    if limit is None:
        return requests_, None
    per, window = limit
    return requests_, (requests_ / per) * window if requests_ > per else 0.0


def estimate_line(client: Client, plan: Any) -> str:
    """``"plan: up to 5000 write requests, about 1h23m at 60 per 60 s"``."""
    requests_, seconds = estimate(client, plan)
    if requests_ == 0:
        return "plan: no write requests needed"
    limit = RATE_LIMITS.get(client.provider)
    if seconds is None:
        return f"plan: up to {requests_} write requests (no published rate limit)"
    pace = f" at {limit[0]} per {limit[1]:g} s" if limit else ""
    when = "under a minute" if seconds < 60 else f"about {format_duration(seconds)}"
    return f"plan: up to {requests_} write requests, {when}{pace}"


def resolve_segment(client: Client, ref: str) -> Segment:
    """A segment by id, or else by exact (case-insensitive) name; usage error if ambiguous."""
    ref = ref.strip()
    if ref.isdigit():
        return client.segments.get(ref)
    matches = [s for s in client.segments.list(search=ref) if s.name.casefold() == ref.casefold()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no segment with id or name {ref!r}", provider=client.provider)
    ids = ", ".join(s.id for s in matches)
    raise ConfigurationError(f"{len(matches)} segments are named {ref!r} (ids {ids}); use an id")


def segment_dict(seg: Segment) -> dict[str, Any]:
    """A segment as JSON data (without the provider's raw object)."""
    return seg.model_dump(mode="json", exclude={"raw"})


def _rules_text(seg: Segment) -> str:
    if not seg.rules:
        return ""
    joiner = " and " if seg.match == "all" else " or "
    return joiner.join(
        f"{r.field} {r.native_operator or r.operator.value} {', '.join(r.values)}".strip()
        for r in seg.rules
    )


def segment_rows(segments: list[Segment]) -> list[list[Any]]:
    """Table rows for segments."""
    return [
        [
            s.id,
            s.name,
            s.kind.value,
            s.provider_type or "",
            "" if s.recipient_count is None else s.recipient_count,
            _rules_text(s),
        ]
        for s in segments
    ]


SEGMENT_COLUMNS = ("id", "name", "kind", "type", "members", "rules")


def show_segments(out: Output, segments: list[Segment], title: str | None = None) -> None:
    """Print segments as a table (or JSON)."""
    if out.json_mode:
        out.json([segment_dict(s) for s in segments])
    else:
        out.table(SEGMENT_COLUMNS, segment_rows(segments), title=title, force=True)


def recipient_rows(recipients: list[Recipient]) -> list[list[Any]]:
    """Table rows for recipients."""
    return [
        [
            r.id or "",
            r.email or "",
            r.phone or "",
            r.display_name if (r.name or r.first_name or r.last_name) else "",
            r.country or "",
            ", ".join(f"{k}={v}" for k, v in r.attributes.items()),
        ]
        for r in recipients
    ]


RECIPIENT_COLUMNS = ("id", "email", "phone", "name", "country", "attributes")


def provider_rows(registry: Registry) -> tuple[list[str], list[list[str]]]:
    """The capability matrix: one row per adapter."""
    from ..models import Capability

    columns = ["provider", "channel", "version", *(label for _, label in CAPABILITIES)]
    rows = [
        [
            info.name,
            info.channel,
            info.version,
            *("yes" if Capability(cap) in info.capabilities else "-" for cap, _ in CAPABILITIES),
        ]
        for info in registry.infos()
    ]
    return columns, rows


def _outcome_identity(o: ItemOutcome) -> str:
    if o.recipient is not None:
        r = o.recipient
        return r.email or r.phone or (f"id {r.id}" if r.id else "")
    inp = o.input
    if isinstance(inp, dict):
        return str(inp.get("email") or inp.get("phone") or "")
    return "" if inp is None else str(inp)


def outcome_dict(o: ItemOutcome, line: int | None = None) -> dict[str, Any]:
    """An outcome as JSON data (the CSV line when known)."""
    data: dict[str, Any] = {
        "status": o.status.value,
        "recipient": _outcome_identity(o),
        "reason": o.reason,
    }
    if line is not None:
        data["line"] = line
    return data


def _line_for(table: CsvTable | None, o: ItemOutcome) -> int | None:
    return table.line_of(o.index) if table is not None and o.index >= 0 else None


def sync_dict(result: SyncResult | SyncPlan, table: CsvTable | None = None) -> dict[str, Any]:
    """A sync or copy result as JSON data."""
    plan = result.plan
    return {
        "provider": result.provider,
        "segment_id": result.segment_id,
        "dry_run": result.dry_run,
        "created": result.created,
        "materialized": result.materialized,
        "notes": list(result.notes),
        "counts": result.counts(),
        "plan": {
            "to_add": [r.email or r.phone for r in plan.to_add],
            "to_remove": [r.email or r.phone or r.id for r in plan.to_remove],
            "unchanged": len(plan.unchanged),
            "rejected": [outcome_dict(o, _line_for(table, o)) for o in plan.rejected],
        },
        "failed": [outcome_dict(o) for o in result.failed],
        "csv_problems": [
            {"line": p.line, "message": p.message, "skipped": p.skipped}
            for p in (table.problems if table else [])
        ],
    }


def show_plan(
    out: Output, result: SyncResult | SyncPlan, table: CsvTable | None = None, limit: int = 40
) -> None:
    """Print the plan of a sync or copy as a table: additions, removals, rejections."""
    plan = result.plan
    channel = result.channel

    def ident(r: Any) -> Any:
        # The channel's identity first: a phone on SMS platforms, an email on email ones.
        return (r.identity(channel) if channel else None) or r.email or r.phone or r.id

    rows: list[list[Any]] = []
    for r in plan.to_add:
        rows.append(["add", ident(r), r.display_name, ""])
    for r in plan.to_remove:
        rows.append(["remove", ident(r), r.display_name, ""])
    for o in plan.rejected:
        line = _line_for(table, o)
        where = f"line {line}: " if line is not None else ""
        rows.append(["reject", _outcome_identity(o), "", f"{where}{o.reason}"])
    if table is not None:
        for p in table.problems:
            rows.append(["skip" if p.skipped else "note", "", "", str(p)])
    shown = rows if out.verbose else rows[:limit]
    title = f"plan for {result.provider} segment {result.segment_id or '(new)'}"
    title += f" ({len(plan.unchanged)} unchanged)"
    if shown:
        out.table(("action", "recipient", "name", "detail"), shown, title=title)
        if len(rows) > len(shown):
            out.say(f"… and {len(rows) - len(shown)} more rows (use --verbose to see all)")
    else:
        out.say(f"{title}: nothing to change")


def finish_sync(
    session: Session, result: SyncResult | SyncPlan, table: CsvTable | None, what: str
) -> None:
    """Print the summary (or JSON) of a sync/copy and exit 1 when anything was rejected or
    failed (including CSV rows that were skipped)."""
    out = session.out
    skipped = len(table.skipped) if table else 0
    if out.json_mode:
        out.json(sync_dict(result, table))
    else:
        for note in result.notes:
            out.say(f"note: {note}")
        for o in result.failed:
            out.warn(f"{_outcome_identity(o)}: {o.reason}")
        extra = f", {skipped} CSV rows skipped" if skipped else ""
        out.result(f"{what}: {result.summary()}{extra}")
    if not result.ok or skipped:
        raise SystemExit(EXIT_FAILED)


# -- providers


@cli.command()
@json_option
@pass_session
def providers(session: Session) -> None:
    """Installed adapters, their versions and capabilities, and plugins that failed to load."""
    out = session.out
    registry = session.registry
    failures = registry.errors()
    if out.json_mode:
        out.json(
            {
                "providers": [
                    {
                        "name": i.name,
                        "display_name": i.display_name,
                        "channel": i.channel,
                        "version": i.version,
                        "api_version": i.api_version,
                        "distribution": i.distribution,
                        "capabilities": sorted(c.value for c in i.capabilities),
                    }
                    for i in registry.infos()
                ],
                "failed": [
                    {
                        "plugin": f.plugin,
                        "distribution": f.distribution,
                        "kind": f.kind,
                        "reason": f.reason,
                    }
                    for f in failures
                ],
            }
        )
        return
    columns, rows = provider_rows(registry)
    out.table(columns, rows, title="installed providers", force=True)
    for f in failures:
        out.warn(f"plugin failed to load: {f}")


# -- segments


@cli.group()
def segments() -> None:
    """List, show, create, rename and delete segments."""


@segments.command("list")
@click.option("--search", "-s", help="Only segments whose name contains this text.")
@json_option
@pass_session
def segments_list(session: Session, search: str | None) -> None:
    """List the account's segments."""
    client = session.connect()
    show_segments(session.out, list(client.segments.list(search=search)))


@segments.command("get")
@click.argument("segment")
@json_option
@pass_session
def segments_get(session: Session, segment: str) -> None:
    """Show one segment (by id or exact name)."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    out = session.out
    if out.json_mode:
        out.json(segment_dict(seg))
        return
    rows = [[k, v] for k, v in zip(SEGMENT_COLUMNS, segment_rows([seg])[0], strict=True)]
    rows += [["created", seg.created_at or ""], ["updated", seg.updated_at or ""]]
    out.table(("field", "value"), rows, title=f"{client.provider} segment {seg.id}", force=True)


@segments.command("create")
@click.argument("name")
@click.option(
    "--from",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Initial members from a CSV file.",
)
@click.option("--member", "-m", "members", multiple=True, help="A member email or phone.")
@json_option
@pass_session
def segments_create(
    session: Session, name: str, csv_file: Path | None, members: tuple[str, ...]
) -> None:
    """Create a static segment called NAME."""
    client = session.connect()
    items: list[Any] = list(members)
    if csv_file is not None:
        items += read_records(csv_file).records()
    seg = client.segments.create(name, recipients=items)
    if session.out.json_mode:
        session.out.json(segment_dict(seg))
    else:
        session.out.result(f"created {client.provider} segment {seg.id} {seg.name!r}")


@segments.command("rename")
@click.argument("segment")
@click.argument("new_name")
@json_option
@pass_session
def segments_rename(session: Session, segment: str, new_name: str) -> None:
    """Rename SEGMENT to NEW_NAME (its members or rules are kept)."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    updated = client.segments.update(seg.id, name=new_name)
    if session.out.json_mode:
        session.out.json(segment_dict(updated))
    else:
        session.out.result(f"renamed segment {seg.id}: {seg.name!r} -> {updated.name!r}")


@segments.command("delete")
@click.argument("segment")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_session
def segments_delete(session: Session, segment: str, yes: bool) -> None:
    """Delete SEGMENT (asks first unless --yes)."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    if not yes:
        click.confirm(f"Delete segment {seg.id} {seg.name!r}?", abort=True)
    client.segments.delete(seg.id)
    session.out.result(f"deleted segment {seg.id} {seg.name!r}")


# -- recipients


@cli.group()
def recipients() -> None:
    """List, add and remove a segment's members."""


@recipients.command("list")
@click.argument("segment")
@json_option
@pass_session
def recipients_list(session: Session, segment: str) -> None:
    """List the members of SEGMENT."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    items = list(client.recipients.list(seg.id))
    out = session.out
    if out.json_mode:
        out.json([recipient_dict(r) for r in items])
    else:
        title = f"{client.provider} segment {seg.id} {seg.name!r}: {len(items)} members"
        out.table(RECIPIENT_COLUMNS, recipient_rows(items), title=title, force=True)


def _bulk_report(session: Session, outcomes: list[ItemOutcome], verb: str) -> None:
    from ..models import OutcomeStatus

    out = session.out
    bad = [o for o in outcomes if o.status in (OutcomeStatus.rejected, OutcomeStatus.failed)]
    if out.json_mode:
        out.json([outcome_dict(o) for o in outcomes])
    else:
        out.table(
            ("status", "recipient", "reason"),
            [[o.status.value, _outcome_identity(o), o.reason or ""] for o in outcomes],
        )
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status.value] = counts.get(o.status.value, 0) + 1
        out.result(f"{verb}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if bad:
        raise SystemExit(EXIT_FAILED)


@recipients.command("add")
@click.argument("segment")
@click.argument("members", nargs=-1)
@click.option(
    "--from",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Members from a CSV file.",
)
@click.option("--default-region", metavar="CC", help="Country for national phone numbers.")
@json_option
@pass_session
def recipients_add(
    session: Session,
    segment: str,
    members: tuple[str, ...],
    csv_file: Path | None,
    default_region: str | None,
) -> None:
    """Add MEMBERS (emails or phones) and/or the rows of a CSV file to SEGMENT."""
    items: list[Any] = list(members)
    if csv_file is not None:
        items += read_records(csv_file).records()
    if not items:
        raise click.UsageError("give members to add, or --from FILE.csv")
    client = session.connect()
    seg = resolve_segment(client, segment)
    result = client.recipients.add(seg.id, items, default_region=default_region)
    _bulk_report(session, list(result.items), f"{client.provider} segment {seg.id}")


@recipients.command("remove")
@click.argument("segment")
@click.argument("members", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_session
def recipients_remove(session: Session, segment: str, members: tuple[str, ...], yes: bool) -> None:
    """Remove MEMBERS (emails, phones or recipient ids) from SEGMENT (on a terminal, asks
    first unless --yes)."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    confirm_removals(session, len(members), f"segment {seg.id} {seg.name!r}", yes)
    result = client.recipients.remove(seg.id, list(members))
    _bulk_report(session, list(result.items), f"{client.provider} segment {seg.id}")


# -- export


@cli.command()
@click.argument("segment")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of stdout.",
)
@pass_session
def export(session: Session, segment: str, fmt: str, output: Path | None) -> None:
    """Export the members of SEGMENT as CSV (re-importable with sync) or JSON."""
    client = session.connect()
    seg = resolve_segment(client, segment)
    items = list(client.recipients.list(seg.id))
    text = recipients_to_csv(items) if fmt == "csv" else recipients_to_json(items)
    if output is None:
        session.out.raw(text)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"exported {len(items)} members of segment {seg.id} to {output}", err=True)


# -- sync and copy


@cli.command()
@click.argument("segment")
@click.option(
    "--from",
    "csv_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The desired members, as CSV.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--keep-extra", is_flag=True, help="Do not remove members missing from the CSV.")
@click.option("--default-region", metavar="CC", help="Country for national phone numbers.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing members.")
@json_option
@pass_session
def sync(
    session: Session,
    segment: str,
    csv_file: Path,
    dry_run: bool,
    keep_extra: bool,
    default_region: str | None,
    yes: bool,
) -> None:
    """Make SEGMENT's members equal the rows of a CSV (or .json/.jsonl) file.

    Prints the plan with its request count and estimated duration, applies it (unless
    --dry-run; on a terminal, removals are confirmed first unless --yes) and a summary. Rows
    that are invalid or lack the platform's identity (phone for SMS, email for email) are
    listed with their line numbers; the exit code is then 1, although the valid rows were
    synced.
    """
    table = read_records(csv_file)
    client = session.connect()
    seg = resolve_segment(client, segment)
    out = session.out
    plan_only = client.recipients.sync(
        seg.id,
        [row.data for row in table.rows],
        remove_extra=not keep_extra,
        dry_run=True,
        default_region=default_region,
    )
    show_plan(out, plan_only, table)
    out.say(estimate_line(client, plan_only.plan))
    result: SyncResult | SyncPlan = plan_only
    if not dry_run:
        where = f"{client.provider} segment {seg.id} {seg.name!r}"
        confirm_removals(session, len(plan_only.plan.to_remove), where, yes)
        # Apply the plan just shown; the segment is not read a second time.
        with out.progress(f"sync {seg.name}") as progress:
            session.listen(progress.on_event if progress else None)
            result = client.recipients.apply(seg.id, plan_only.plan, progress=progress)
    finish_sync(session, result, table, f"{client.provider} segment {seg.id} {seg.name!r}")


@cli.command()
@click.option(
    "--from",
    "source",
    required=True,
    metavar="ACCOUNT:SEGMENT",
    help="Source: ACCOUNT:SEGMENT, or DSN#SEGMENT.",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="ACCOUNT[:SEGMENT]",
    help="Target: ACCOUNT[:SEGMENT], or DSN[#SEGMENT]. Without a segment one is created.",
)
@click.option("--name", help="Name of the created segment (default: the source's name).")
@click.option("--remove-extra", is_flag=True, help="Remove target members not in the source.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing members.")
@json_option
@pass_session
def copy(
    session: Session,
    source: str,
    target: str,
    name: str | None,
    remove_extra: bool,
    dry_run: bool,
    yes: bool,
) -> None:
    """Copy a segment's members to another account or provider.

    ACCOUNT is a name from the config file; a DSN works too, with the segment after '#'
    (a DSN contains ':' itself). Members lacking the target's identity (a phone for SMS,
    an email for email) are listed as rejected, and the exit code is then 1.
    """
    from ..sync import copy_segment

    src_end = parse_endpoint(source)
    dst_end = parse_endpoint(target)
    if src_end.segment is None:
        raise click.UsageError("--from needs a segment: ACCOUNT:SEGMENT or DSN#SEGMENT")
    src = session.connect(src_end.dsn)
    dst = session.connect(dst_end.dsn)
    src_seg = resolve_segment(src, src_end.segment)
    dst_id = resolve_segment(dst, dst_end.segment).id if dst_end.segment else None
    out = session.out
    preview = copy_segment(
        src,
        src_seg.id,
        dst,
        target_segment_id=dst_id,
        name=name,
        remove_extra=remove_extra,
        dry_run=True,
    )
    show_plan(out, preview)
    out.say(estimate_line(dst, preview.plan))
    result = preview
    if not dry_run:
        where = f"{dst.provider} segment {preview.segment_id or '(new)'}"
        confirm_removals(session, len(preview.plan.to_remove), where, yes)
        with out.progress(f"copy {src_seg.name}") as progress:
            session.listen(progress.on_event if progress else None)
            result = copy_segment(
                src,
                src_seg.id,
                dst,
                target_segment_id=dst_id,
                name=name,
                remove_extra=remove_extra,
                progress=progress,
            )
    label = f"copy {src.provider} {src_seg.id} -> {dst.provider} {result.segment_id or '(new)'}"
    finish_sync(session, result, None, label)
