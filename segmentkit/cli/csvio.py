"""Reading recipients from CSV and writing them back out (pure functions, no click or rich).

The header decides what each column means: ``email``, ``phone``, ``first_name``,
``last_name``, ``name``, ``country`` (a few common aliases are accepted, see :data:`ALIASES`);
every other column becomes an attribute. Files are UTF-8, with or without a byte-order mark.
A bad row is reported with its line number and never stops the rows after it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Recipient

__all__ = [
    "ALIASES",
    "STANDARD_FIELDS",
    "CsvFormatError",
    "CsvProblem",
    "CsvRow",
    "CsvTable",
    "parse_csv",
    "read_csv",
    "recipients_to_csv",
    "recipients_to_json",
]

#: Columns with a meaning of their own; any other column is an attribute.
STANDARD_FIELDS = ("email", "phone", "first_name", "last_name", "name", "country")

#: Header spellings accepted for the standard columns (after lower-casing, trimming and turning
#: spaces and dashes into underscores).
ALIASES = {
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "mobile": "phone",
    "phone_number": "phone",
    "msisdn": "phone",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "country_code": "country",
}


class CsvFormatError(ValueError):
    """Raised when the file as a whole cannot be read: not UTF-8, no header, or no ``email``
    or ``phone`` column."""


@dataclass(frozen=True)
class CsvRow:
    """One data row: its 1-based line number in the file and the recipient as a mapping
    (standard fields, plus ``attributes``); empty cells are left out."""

    line: int
    data: dict[str, Any]

    @property
    def identity(self) -> str:
        """The email, else the phone, as written (for messages)."""
        return str(self.data.get("email") or self.data.get("phone") or "")


@dataclass(frozen=True)
class CsvProblem:
    """A row that was skipped (``error``) or kept with a remark (a duplicate)."""

    line: int
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class CsvTable:
    """What :func:`parse_csv` found: usable rows and the problems, each with its line."""

    columns: tuple[str, ...]
    rows: list[CsvRow] = field(default_factory=list)
    problems: list[CsvProblem] = field(default_factory=list)

    @property
    def skipped(self) -> list[CsvProblem]:
        """Rows that were not kept."""
        return [p for p in self.problems if p.skipped]

    def line_of(self, index: int) -> int | None:
        """The file line of the ``index``-th kept row (``None`` when out of range)."""
        return self.rows[index].line if 0 <= index < len(self.rows) else None


def _column(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key, key)


def parse_csv(text: str) -> CsvTable:
    """Parse CSV ``text`` (a leading BOM is ignored) into rows and problems.

    Rows are kept as mappings; validating phones and emails is left to the library, which
    rejects an invalid recipient with the reason. Here a row is skipped when it has more cells
    than the header, or neither an email nor a phone. A row repeating an earlier email or
    phone is kept and noted (the library merges repeats).
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFormatError("the file is empty; the first line must be a header") from None
    except csv.Error as exc:
        raise CsvFormatError(f"line 1: {exc}") from None
    columns = tuple(_column(h) for h in header)
    if not any(c in ("email", "phone") for c in columns):
        raise CsvFormatError(
            "the header needs an 'email' or 'phone' column; found: "
            + (", ".join(h.strip() for h in header) or "nothing")
        )
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise CsvFormatError(f"the header repeats column(s): {', '.join(repeated)}")
    rows: list[CsvRow] = []
    problems: list[CsvProblem] = []
    seen: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(CsvProblem(reader.line_num, f"unreadable row: {exc}"))
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) > len(columns):
            problems.append(
                CsvProblem(line, f"{len(cells)} cells but the header has {len(columns)} columns")
            )
            continue
        data: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for col, raw in zip(columns, cells, strict=False):
            value = raw.strip()
            if not col or not value:
                continue
            if col in STANDARD_FIELDS:
                data[col] = value
            else:
                attributes[col] = value
        if attributes:
            data["attributes"] = attributes
        if not (data.get("email") or data.get("phone")):
            problems.append(CsvProblem(line, "no email and no phone"))
            continue
        for key in ("email", "phone"):
            value = str(data.get(key) or "").lower().replace(" ", "")
            if not value:
                continue
            first = seen.get(f"{key}:{value}")
            if first is not None:
                problems.append(
                    CsvProblem(line, f"repeats the {key} of line {first}", skipped=False)
                )
            else:
                seen[f"{key}:{value}"] = line
        rows.append(CsvRow(line=line, data=data))
    return CsvTable(columns=columns, rows=rows, problems=problems)


def read_csv(path: str | Path) -> CsvTable:
    """Read and parse a UTF-8 CSV file (see :func:`parse_csv`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CsvFormatError(f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFormatError(
            f"{p} is not UTF-8 (byte {exc.start}); save it as UTF-8 and try again"
        ) from None
    return parse_csv(text)


def _attribute_names(recipients: Sequence[Recipient]) -> list[str]:
    names: dict[str, None] = {}
    for r in recipients:
        for k in r.attributes:
            if k not in STANDARD_FIELDS:
                names.setdefault(k, None)
    return list(names)


def recipients_to_csv(recipients: Iterable[Recipient]) -> str:
    """Recipients as CSV text with a header ``id,`` + the standard fields + attributes, in a
    shape :func:`parse_csv` reads back."""
    items = list(recipients)
    extra = _attribute_names(items)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", *STANDARD_FIELDS, *extra])
    for r in items:
        writer.writerow(
            [r.id or ""]
            + [getattr(r, f) or "" for f in STANDARD_FIELDS]
            + [r.attributes.get(k, "") for k in extra]
        )
    return buf.getvalue()


def recipient_dict(r: Recipient) -> dict[str, Any]:
    """A recipient as plain JSON data (without the provider's raw object)."""
    return r.model_dump(mode="json", exclude={"raw"})


def recipients_to_json(recipients: Iterable[Recipient]) -> str:
    """Recipients as a JSON array (one object per recipient, ``raw`` left out)."""
    return json.dumps([recipient_dict(r) for r in recipients], indent=2, ensure_ascii=False) + "\n"
