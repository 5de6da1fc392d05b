"""Recipients from CSV and JSON files, and back (standard library only).

The same intake the ``segmentkit`` CLI uses, for library users::

    from segmentkit.io import read_csv

    table = read_csv("customers.csv")                  # or read_records("x.json")
    for problem in table.problems:                     # line-numbered, never fatal
        print(problem)                                 # "line 7: no email and no phone"
    client.recipients.sync(segment_id, table.records())

Column meaning comes from the header: ``email``, ``phone``, ``first_name``, ``last_name``,
``name``, ``country`` and common spellings of them (``E-mail``, ``Phone number``,
``first name``, ``Surname``…, see :data:`ALIASES`); every other column becomes an attribute.
``columns={"Mobile (work)": "phone", "Notes": None}`` maps headers explicitly (``None`` drops a
column). Files are UTF-8 with or without a byte-order mark. A bad row is reported with its line
number and never stops the rows after it. :func:`iter_csv` and :func:`iter_json` stream;
:func:`read_csv` / :func:`read_json` / :func:`read_records` collect a :class:`CsvTable`.

Plain mappings with extra keys (``csv.DictReader`` rows) are also accepted by
``recipients.add`` / ``sync`` directly: :func:`fold_extra_keys` is what the
:class:`~segmentkit.models.Recipient` model applies to them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .models import Recipient

__all__ = [
    "ALIASES",
    "STANDARD_FIELDS",
    "Columns",
    "CsvFormatError",
    "CsvProblem",
    "CsvRow",
    "CsvTable",
    "fold_extra_keys",
    "iter_csv",
    "iter_json",
    "map_record",
    "normalize_header",
    "parse_csv",
    "parse_json",
    "read_csv",
    "read_json",
    "read_records",
    "recipient_dict",
    "recipients_to_csv",
    "recipients_to_json",
]

#: Columns with a meaning of their own; any other column is an attribute.
STANDARD_FIELDS = ("email", "phone", "first_name", "last_name", "name", "country")

#: Header spellings accepted for the standard columns, after :func:`normalize_header`
#: (lower-cased, trimmed, spaces/dashes/dots turned into underscores).
ALIASES = {
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "mobile": "phone",
    "mobile_phone": "phone",
    "mobile_number": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "phone_number": "phone",
    "telephone": "phone",
    "tel": "phone",
    "msisdn": "phone",
    "firstname": "first_name",
    "first": "first_name",
    "given_name": "first_name",
    "forename": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "country_code": "country",
}

#: Explicit header mapping: source header -> standard field or attribute name (``None`` drops).
Columns = Mapping[str, "str | None"]

_MODEL_KEYS = frozenset({*STANDARD_FIELDS, "id", "attributes", "raw"})


class CsvFormatError(ValueError):
    """The file as a whole cannot be read: not UTF-8, not CSV/JSON, no header, or no
    ``email`` or ``phone`` column. (Single bad rows are :class:`CsvProblem` instead.)"""


@dataclass(frozen=True)
class CsvRow:
    """One usable record: its 1-based line in the file and the recipient as a mapping
    (standard fields, plus ``attributes``); empty cells are left out."""

    line: int
    data: dict[str, Any]

    @property
    def identity(self) -> str:
        """The email, else the phone, as written (for messages)."""
        return str(self.data.get("email") or self.data.get("phone") or "")


@dataclass(frozen=True)
class CsvProblem:
    """A record that was skipped (``skipped=True``) or kept with a remark (a repeat)."""

    line: int
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class CsvTable:
    """What a reader found: usable rows and the problems, each with its line."""

    columns: tuple[str, ...]
    rows: list[CsvRow] = field(default_factory=list)
    problems: list[CsvProblem] = field(default_factory=list)

    @property
    def skipped(self) -> list[CsvProblem]:
        """Records that were not kept."""
        return [p for p in self.problems if p.skipped]

    def records(self) -> list[dict[str, Any]]:
        """The usable rows as mappings, ready for ``recipients.add`` / ``sync``."""
        return [row.data for row in self.rows]

    def line_of(self, index: int) -> int | None:
        """The file line of the ``index``-th kept row (``None`` when out of range)."""
        return self.rows[index].line if 0 <= index < len(self.rows) else None


def normalize_header(name: str) -> str:
    """The field a header means: ``" E-mail "`` -> ``"email"``, ``"Phone number"`` ->
    ``"phone"``, ``"Loyalty tier"`` -> ``"loyalty_tier"`` (an attribute)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_").replace(".", "_")
    return ALIASES.get(key, key)


def _target(header: str, columns: Columns | None) -> str | None:
    if columns is not None and header in columns:
        return columns[header]
    return normalize_header(header)


def map_record(record: Mapping[str, Any], columns: Columns | None = None) -> dict[str, Any]:
    """A recipient mapping from any record (a CSV row, a JSON object, a database row).

    Headers are mapped with ``columns`` first, then :func:`normalize_header`; standard fields
    are kept, every other non-empty value (an ``id`` column too: ids belong to one platform)
    becomes a string attribute, and an ``attributes`` mapping in the record is merged in.
    Values are trimmed; empty ones dropped.
    """
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for header, raw in record.items():
        if header == "attributes" and isinstance(raw, Mapping):
            attributes.update({str(k): "" if v is None else str(v) for k, v in raw.items()})
            continue
        if header == "raw":
            continue  # a provider's raw object (from a JSON export) is not intake data
        target = _target(str(header), columns)
        value = "" if raw is None else str(raw).strip()
        if not target or not value:
            continue
        if target in STANDARD_FIELDS:
            data[target] = value
        else:
            attributes[target] = value
    if attributes:
        data["attributes"] = attributes
    return data


def fold_extra_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Used by :class:`~segmentkit.models.Recipient` for mappings with keys it does not know.

    Keys that spell a standard field (``"E-mail"``, ``"Phone number"``) become that field;
    other keys with text, number or boolean values become string ``attributes``. A key whose
    value is a list or mapping raises :class:`ValueError` saying how to map it.
    """
    if data.keys() <= _MODEL_KEYS:
        return data
    out: dict[str, Any] = {k: v for k, v in data.items() if k in _MODEL_KEYS}
    attributes = dict(out.get("attributes") or {})
    for key, value in data.items():
        if key in _MODEL_KEYS:
            continue
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(
                f"field {key!r} holds a {type(value).__name__}; recipients take the fields "
                f"{', '.join(STANDARD_FIELDS)}, id and attributes (text values). Put it in "
                "attributes={...} as text, or map the record with "
                "segmentkit.io.map_record(record, columns={...})"
            )
        target = normalize_header(str(key))
        text = "" if value is None else str(value).strip()
        if target in STANDARD_FIELDS and not out.get(target):
            out[target] = text or None
        elif text:
            attributes[str(key)] = text
    if attributes:
        out["attributes"] = attributes
    return out


# -- CSV


def _lines(source: str | Path | TextIO | Iterable[str]) -> tuple[Iterable[str], TextIO | None]:
    if isinstance(source, str | Path):
        p = Path(source)
        try:
            handle = p.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CsvFormatError(f"cannot read {p}: {exc.strerror or exc}") from None
        return handle, handle
    return source, None


def iter_csv(
    source: str | Path | TextIO | Iterable[str],
    *,
    columns: Columns | None = None,
    require_identity: bool = True,
) -> Iterator[CsvRow | CsvProblem]:
    """Stream a CSV file (a path, an open text file or an iterable of lines) as
    :class:`CsvRow` and :class:`CsvProblem` items, one record at a time.

    Raises :class:`CsvFormatError` when the header is unusable (empty file, repeated columns,
    no email/phone column with ``require_identity``) or the file is not UTF-8. A row is
    skipped (a problem) when it has more cells than the header or neither email nor phone; a
    row repeating an earlier email or phone is kept and noted (the library merges repeats).
    Validating phones and emails is left to the library, which rejects each with its reason.
    """
    lines, handle = _lines(source)
    name = str(source) if isinstance(source, str | Path) else "the input"
    try:
        first = True

        def unbommed() -> Iterator[str]:
            nonlocal first
            for line in lines:
                if first:
                    first = False
                    line = line.removeprefix("\ufeff")
                yield line

        reader = csv.reader(unbommed())
        try:
            header = next(reader)
        except StopIteration:
            raise CsvFormatError("the file is empty; the first line must be a header") from None
        except csv.Error as exc:
            raise CsvFormatError(f"line 1: {exc}") from None
        targets = tuple(_target(h, columns) or "" for h in header)
        if require_identity and not any(c in ("email", "phone") for c in targets):
            raise CsvFormatError(
                "the header needs an 'email' or 'phone' column (or columns={'Header': 'email'});"
                " found: " + (", ".join(h.strip() for h in header) or "nothing")
            )
        repeated = sorted({c for c in targets if c and targets.count(c) > 1})
        if repeated:
            raise CsvFormatError(f"the header repeats column(s): {', '.join(repeated)}")
        seen: dict[str, int] = {}
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield CsvProblem(reader.line_num, f"unreadable row: {exc}")
                continue
            except UnicodeDecodeError as exc:
                raise CsvFormatError(
                    f"{name} is not UTF-8 (near line {reader.line_num + 1}, byte {exc.start}); "
                    "save it as UTF-8 and try again"
                ) from None
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) > len(header):
                yield CsvProblem(line, f"{len(cells)} cells but the header has {len(header)}")
                continue
            data = map_record(
                {t: c for t, c in zip(targets, cells, strict=False) if t},
                {t: t for t in targets if t},
            )
            yield from _checked(line, data, seen, require_identity)
    except UnicodeDecodeError as exc:
        raise CsvFormatError(
            f"{name} is not UTF-8 (byte {exc.start}); save it as UTF-8 and try again"
        ) from None
    finally:
        if handle is not None:
            handle.close()


def _checked(
    line: int, data: dict[str, Any], seen: dict[str, int], require_identity: bool
) -> Iterator[CsvRow | CsvProblem]:
    if require_identity and not (data.get("email") or data.get("phone")):
        yield CsvProblem(line, "no email and no phone")
        return
    for key in ("email", "phone"):
        value = str(data.get(key) or "").lower().replace(" ", "")
        if not value:
            continue
        first = seen.get(f"{key}:{value}")
        if first is not None:
            yield CsvProblem(line, f"repeats the {key} of line {first}", skipped=False)
        else:
            seen[f"{key}:{value}"] = line
    yield CsvRow(line=line, data=data)


def _collect(columns: tuple[str, ...], items: Iterable[CsvRow | CsvProblem]) -> CsvTable:
    table = CsvTable(columns=columns)
    for item in items:
        if isinstance(item, CsvRow):
            table.rows.append(item)
        else:
            table.problems.append(item)
    return table


def _header(text: str, columns: Columns | None) -> tuple[str, ...]:
    first = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))), [])
    return tuple(_target(h, columns) or "" for h in first)


def parse_csv(text: str, *, columns: Columns | None = None) -> CsvTable:
    """Parse CSV ``text`` (a leading BOM is ignored) into rows and problems (see
    :func:`iter_csv`)."""
    items = iter_csv(io.StringIO(text, newline=""), columns=columns)
    table = _collect((), items)
    return CsvTable(_header(text, columns), table.rows, table.problems)


def read_csv(path: str | Path, *, columns: Columns | None = None) -> CsvTable:
    """Read a UTF-8 CSV file into rows and problems (see :func:`iter_csv`)."""
    p = Path(path)
    table = _collect((), iter_csv(p, columns=columns))
    with p.open(encoding="utf-8-sig", newline="") as f:
        head = f.readline()
    return CsvTable(_header(head, columns), table.rows, table.problems)


# -- JSON


def iter_json(text: str, *, columns: Columns | None = None) -> Iterator[CsvRow | CsvProblem]:
    """Records from JSON ``text``: one array of objects, or one object per line (JSON Lines).

    Each record is mapped like a CSV row (:func:`map_record`); the line is where the object
    starts. A value that is not an object, or an object without email and phone, is a problem;
    text that is not JSON at all raises :class:`CsvFormatError`.
    """
    text = text.removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    array = text.startswith("[", pos)
    if array:
        pos = _skip_ws(text, pos + 1)
    seen: dict[str, int] = {}
    while pos < len(text):
        if array and text.startswith("]", pos):
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise CsvFormatError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
        pos = _skip_ws(text, end)
        if array:
            if text.startswith(",", pos):
                pos = _skip_ws(text, pos + 1)
            elif not text.startswith("]", pos):
                raise CsvFormatError(f"line {text.count(chr(10), 0, pos) + 1}: expected , or ]")
        if not isinstance(value, dict):
            yield CsvProblem(line, f"expected an object, got {type(value).__name__}")
            continue
        yield from _checked(line, map_record(value, columns), seen, True)
    if array:
        raise CsvFormatError("the JSON array is not closed with ]")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse_json(text: str, *, columns: Columns | None = None) -> CsvTable:
    """JSON ``text`` (array or JSON Lines) into rows and problems (see :func:`iter_json`)."""
    return _collect(("json",), iter_json(text, columns=columns))


def read_json(path: str | Path, *, columns: Columns | None = None) -> CsvTable:
    """Read a UTF-8 JSON or JSON Lines file (see :func:`iter_json`)."""
    return parse_json(_read_text(Path(path)), columns=columns)


def read_records(path: str | Path, *, columns: Columns | None = None) -> CsvTable:
    """:func:`read_json` for ``.json``/``.jsonl``/``.ndjson`` files, else :func:`read_csv`."""
    p = Path(path)
    if p.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        return read_json(p, columns=columns)
    return read_csv(p, columns=columns)


def _read_text(p: Path) -> str:
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CsvFormatError(f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFormatError(
            f"{p} is not UTF-8 (byte {exc.start}); save it as UTF-8 and try again"
        ) from None


# -- writing


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
