"""Mistakes ``mypy --strict`` must catch in user code (tests/typing/test_typing.py asserts each
error line appears). Each marked line must produce an error containing the marked text."""

from __future__ import annotations

import segmentkit
from segmentkit.testing import FakeFactory


def wrong(segmentkit_fake: FakeFactory) -> None:
    segmentkit.connect("notificator", read_timeout="slow")  # E: incompatible type "str"
    segmentkit_fake("notificator", mode="tcp")  # E: incompatible type "Literal['tcp']"
    client = segmentkit.connect("notificator")
    result = client.recipients.add("1", ["+393331234567"])
    result.summry()  # E: "BulkResult" has no attribute "summry"
    synced = client.recipients.sync("1", ["+393331234567"])
    print(synced.plna)  # E: "SyncResult" has no attribute "plna"
    planned = client.recipients.sync("1", ["+393331234567"], dry_run=True)
    print(planned.plna)  # E: "SyncPlan" has no attribute "plna"
    either = client.recipients.sync("1", [], dry_run=bool(planned))
    print(either.plna)  # E: has no attribute "plna"
    client.recipients.sync("1", [], dry_run=True, retries="3")  # E: No overload variant of "sync"
    client.recipients.sync("1", [], remove_extras=False)  # E: Unexpected keyword argument
