"""Sync a customer CSV file to an SMS segment and an email segment.

Usage::

    python sync_customers.py customers.csv --sms-segment VIP --mail-segment "Newsletter email"

The DSNs come from ``--sms-dsn``/``--mail-dsn`` or the ``SMS_DSN``/``MAIL_DSN`` environment
variables (``segmentkit sandbox`` prints both). Either platform may be left out. Exit codes:
0 in sync; 1 partly synced (rejected or failed rows are listed); 2 unusable file or
configuration; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import segmentkit
from segmentkit.io import CsvFormatError, CsvTable, read_records

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def find_segment(client: segmentkit.Client, ref: str) -> segmentkit.Segment:
    """A segment by id or exact name."""
    if ref.isdigit():
        return client.segments.get(ref)
    for seg in client.segments.list(search=ref):
        if seg.name.casefold() == ref.casefold():
            return seg
    raise segmentkit.NotFoundError(f"no segment named {ref!r} on {client.provider}")


def sync_one(label: str, dsn: str, segment: str, table: CsvTable, *, dry_run: bool) -> int:
    """Sync ``table`` into one platform's segment; returns an exit code for this platform."""
    try:
        with segmentkit.connect(dsn) as client:
            seg = find_segment(client, segment)
            result = client.recipients.sync(seg.id, table.records(), dry_run=dry_run)
    except segmentkit.AuthenticationError as exc:
        print(f"{label}: the platform refused the key ({exc}); check the DSN", file=sys.stderr)
        return EXIT_CONFIG
    except (segmentkit.ConfigurationError, segmentkit.NotFoundError) as exc:
        print(f"{label}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except segmentkit.RateLimitError as exc:
        print(f"{label}: still rate limited ({exc}); run again later", file=sys.stderr)
        return EXIT_PARTIAL
    except segmentkit.SegmentkitError as exc:  # platform down, unexpected answers, timeouts
        print(f"{label}: failed: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    plan = result.plan
    verb = "would change" if dry_run else "changed"
    print(
        f"{label}: segment {seg.id} {seg.name!r}: {verb} +{len(plan.to_add)} "
        f"-{len(plan.to_remove)}, {len(plan.unchanged)} unchanged; {result.summary()}"
    )
    for outcome in [*plan.rejected, *result.failed]:
        line = table.line_of(outcome.index) if outcome.index >= 0 else None
        where = f"line {line}" if line else "member"
        print(f"{label}:   {outcome.status.value} {where}: {outcome.reason}")
    return EXIT_OK if result.ok else EXIT_PARTIAL


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; returns the exit code."""
    parser = argparse.ArgumentParser(
        description="Sync a customer file to an SMS and an email segment."
    )
    parser.add_argument("csv", help="customer file (.csv, .json or .jsonl)")
    parser.add_argument("--sms-dsn", default=os.environ.get("SMS_DSN"))
    parser.add_argument("--mail-dsn", default=os.environ.get("MAIL_DSN"))
    parser.add_argument("--sms-segment", help="SMS segment id or name")
    parser.add_argument("--mail-segment", help="email segment id or name")
    parser.add_argument("--dry-run", action="store_true", help="print the plans only")
    args = parser.parse_args(argv)

    try:
        table = read_records(args.csv)
    except CsvFormatError as exc:
        print(f"cannot use {args.csv}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for problem in table.problems:
        print(f"{args.csv}: {problem}")

    targets = [
        ("sms", args.sms_dsn, args.sms_segment, "--sms-dsn or SMS_DSN"),
        ("email", args.mail_dsn, args.mail_segment, "--mail-dsn or MAIL_DSN"),
    ]
    codes = []
    try:
        for label, dsn, segment, where in targets:
            if segment is None:
                continue
            if not dsn:
                print(f"{label}: no DSN; pass {where}", file=sys.stderr)
                codes.append(EXIT_CONFIG)
                continue
            codes.append(sync_one(label, dsn, segment, table, dry_run=args.dry_run))
    except KeyboardInterrupt:
        print("interrupted; run again to finish (sync only does what is still missing)")
        return EXIT_INTERRUPTED
    if not codes:
        parser.error("give --sms-segment and/or --mail-segment")
    if table.skipped:
        codes.append(EXIT_PARTIAL)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
