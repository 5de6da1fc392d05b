"""The CSV reader: header-driven, BOM-tolerant, bad rows reported by line."""

from __future__ import annotations

import pytest

from segmentkit.cli.csvio import (
    CsvFormatError,
    parse_csv,
    read_csv,
    recipients_to_csv,
)
from segmentkit.models import Recipient


def test_parse_csv_maps_standard_columns_and_attributes():
    table = parse_csv(
        "Email,Phone,First Name,surname,plan\na@example.com,+393331234567,Ann,A,gold\n"
    )
    assert table.rows[0].data == {
        "email": "a@example.com",
        "phone": "+393331234567",
        "first_name": "Ann",
        "last_name": "A",
        "attributes": {"plan": "gold"},
    }
    assert table.rows[0].line == 2


def test_parse_csv_with_bom_reads_first_column():
    table = parse_csv("\ufeffemail,name\na@example.com,Ann\n")
    assert table.columns == ("email", "name")
    assert table.rows[0].data["email"] == "a@example.com"


def test_read_csv_bom_file_reads_first_column(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("email\na@example.com\n".encode("utf-8-sig"))
    assert read_csv(path).rows[0].data == {"email": "a@example.com"}


def test_parse_csv_bad_rows_reported_with_line_numbers_and_others_kept():
    text = "email,phone,name\na@example.com,,\n,,Ann\nb@example.com,+1,B,extra\n\nc@example.com,,\n"
    table = parse_csv(text)
    assert [r.line for r in table.rows] == [2, 6]
    assert [(p.line, p.skipped) for p in table.problems] == [(3, True), (4, True)]
    assert "no email and no phone" in str(table.problems[0])


def test_parse_csv_duplicates_kept_and_noted():
    table = parse_csv("email\na@example.com\nA@Example.com\n")
    assert len(table.rows) == 2
    assert table.problems[0].line == 3
    assert not table.problems[0].skipped
    assert "line 2" in table.problems[0].message


def test_parse_csv_mixed_identities_kept():
    table = parse_csv("email,phone\na@example.com,\n,+393331234567\n")
    assert [sorted(r.data) for r in table.rows] == [["email"], ["phone"]]


def test_parse_csv_header_without_identity_raises():
    with pytest.raises(CsvFormatError, match="'email' or 'phone'"):
        parse_csv("name,country\nAnn,IT\n")


def test_parse_csv_empty_raises():
    with pytest.raises(CsvFormatError, match="empty"):
        parse_csv("")


def test_read_csv_not_utf8_raises(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,name\na@example.com,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(CsvFormatError, match="not UTF-8"):
        read_csv(path)


def test_recipients_to_csv_round_trips_through_parse():
    people = [
        Recipient(email="a@example.com", first_name="Ann", attributes={"plan": "gold"}),
        Recipient(phone="+393331234567", name="Bob"),
    ]
    table = parse_csv(recipients_to_csv(people))
    assert table.problems == []
    assert [Recipient.parse(r.data) for r in table.rows] == people
