"""A small user program type-checked with ``mypy --strict`` by tests/typing/test_typing.py.

Not collected by pytest (no ``test_`` prefix); it must stay free of type errors.
"""

from __future__ import annotations

import csv
import io

import segmentkit
from segmentkit.io import CsvTable, read_csv
from segmentkit.testing import FakeFactory, FakeServer


def report(client: segmentkit.Client, segment_id: str) -> str:
    result: segmentkit.BulkResult = client.recipients.add(segment_id, ["+393331234567"])
    reasons: list[str | None] = [item.reason for item in result.rejected]
    return f"{result.summary()} {reasons}"


def connect_with_options(dsn: str) -> segmentkit.Client:
    return segmentkit.connect(
        dsn,
        read_timeout=5.0,
        max_retries=2,
        concurrency=4,
        on_event=lambda event: print(event.kind),
        allow_insecure=False,
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def load(path: str) -> CsvTable:
    table = read_csv(path, columns={"Mobile": "phone", "Notes": None})
    for problem in table.problems:
        print(problem.line, problem.message)
    return table


def test_in_user_suite(segmentkit_fake: FakeFactory) -> None:
    server: FakeServer = segmentkit_fake("notificator", mode="responses", faults=[("503", 0.1)])
    client = server.client()
    print(report(client, "1"))
