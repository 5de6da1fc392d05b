"""The CLI's CSV/JSON intake: a thin re-export of :mod:`segmentkit.io` (kept so existing
imports of ``segmentkit.cli.csvio`` keep working)."""

from __future__ import annotations

from ..io import (
    ALIASES,
    STANDARD_FIELDS,
    CsvFormatError,
    CsvProblem,
    CsvRow,
    CsvTable,
    parse_csv,
    read_csv,
    read_records,
    recipient_dict,
    recipients_to_csv,
    recipients_to_json,
)

__all__ = [
    "ALIASES",
    "STANDARD_FIELDS",
    "CsvFormatError",
    "CsvProblem",
    "CsvRow",
    "CsvTable",
    "parse_csv",
    "read_csv",
    "read_records",
    "recipient_dict",
    "recipients_to_csv",
    "recipients_to_json",
]
