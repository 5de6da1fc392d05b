"""segmentkit.io: CSV/JSON intake in the core (issue 16), and plain records with extra keys
accepted by recipients.add."""

from __future__ import annotations

import csv
import io
import sys

import pytest

from segmentkit.io import (
    CsvFormatError,
    CsvProblem,
    CsvRow,
    iter_csv,
    map_record,
    parse_csv,
    parse_json,
    read_csv,
    read_records,
)


def test_header_aliases_bom_and_attributes():
    text = "\ufeffE-mail,Phone number,first name,Surname,Loyalty tier\n"
    text += "a@example.com,+393331234567,Ann,Rossi,gold\n"
    table = parse_csv(text)
    assert table.columns == ("email", "phone", "first_name", "last_name", "loyalty_tier")
    assert table.records() == [
        {
            "email": "a@example.com",
            "phone": "+393331234567",
            "first_name": "Ann",
            "last_name": "Rossi",
            "attributes": {"loyalty_tier": "gold"},
        }
    ]


def test_explicit_columns_map_and_drop():
    text = "Contact,Mobile (work),Notes\nAnn,+393331234567,secret note\n"
    with pytest.raises(CsvFormatError, match="columns="):
        parse_csv(text)
    table = parse_csv(text, columns={"Mobile (work)": "phone", "Notes": None, "Contact": "name"})
    assert table.records() == [{"phone": "+393331234567", "name": "Ann"}]


def test_rejections_carry_line_numbers_and_never_stop_later_rows():
    table = parse_csv(
        "email,first_name\na@example.com,A\n,Bob\nc@example.com,C,D\na@example.com,\n"
    )
    assert [str(p) for p in table.problems] == [
        "line 3: no email and no phone",
        "line 4: 3 cells but the header has 2",
        "line 5: repeats the email of line 2",
    ]
    assert [r.line for r in table.rows] == [2, 5]


def test_iter_csv_streams_one_record_at_a_time():
    produced = 0

    def lines():
        nonlocal produced
        yield "email\n"
        for i in range(1_000_000):
            produced += 1
            yield f"u{i}@example.com\n"

    stream = iter_csv(lines())
    first = next(stream)
    assert isinstance(first, CsvRow)
    assert first.line == 2
    assert produced < 100  # not read to the end first


def test_read_csv_from_a_file_and_non_utf8_is_one_clear_error(tmp_path):
    good = tmp_path / "c.csv"
    good.write_bytes("\ufeffemail,name\nà@example.com,Zoë\n".encode())
    assert read_csv(good).records() == [{"email": "à@example.com", "name": "Zoë"}]
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("email,name\na@example.com,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(CsvFormatError, match="not UTF-8"):
        read_csv(bad)


def test_json_array_and_json_lines_with_line_numbers(tmp_path):
    text = '[\n  {"E-mail": "a@example.com", "tier": 1},\n  42,\n  {"name": "no id"}\n]\n'
    table = parse_json(text)
    assert table.records() == [{"email": "a@example.com", "attributes": {"tier": "1"}}]
    assert [str(p) for p in table.problems] == [
        "line 3: expected an object, got int",
        "line 4: no email and no phone",
    ]
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"phone": "+393331234567"}\n{"email": "b@example.com"}\n', "utf-8")
    assert [r.line for r in read_records(jsonl).rows] == [1, 2]
    with pytest.raises(CsvFormatError, match="line 1: not valid JSON"):
        parse_json("{nope")


def test_map_record_keeps_attributes_and_drops_raw():
    data = map_record({"Email": " a@example.com ", "attributes": {"x": 1}, "raw": {"a": 1}})
    assert data == {"email": "a@example.com", "attributes": {"x": "1"}}


def test_problem_str():
    assert str(CsvProblem(7, "no email and no phone")) == "line 7: no email and no phone"


def test_dictreader_rows_are_accepted_by_recipients_add(segmentkit_fake):
    srv = segmentkit_fake("allstech", mode="responses")
    sid = srv.platform.seed_segment("S", [])
    text = "E-mail,First name,Last name,Tier\na@example.com,A,B,gold\n"
    rows = list(csv.DictReader(io.StringIO(text)))
    client = srv.client()
    result = client.recipients.add(sid, rows)
    assert result.summary().startswith("added 1"), result.summary()
    assert srv.platform.member_identities(sid) == ["a@example.com"]
    refused = client.recipients.add(sid, [{"email": "c@example.com", "tags": ["x"]}])
    assert len(refused.rejected) == 1
    assert "map_record" in (refused.rejected[0].reason or "")


def test_io_is_standard_library_only():
    from pathlib import Path

    import segmentkit.io as sio

    source = Path(sio.__file__).read_text(encoding="utf-8")
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from .")
    }
    for name in imported - {"__future__"}:
        assert name in sys.stdlib_module_names, f"segmentkit.io imports {name}"
