"""The membership engine, once, in the core: the three store shapes driven through the public
``Client`` API with in-memory stub adapters (no HTTP) — lost answers, concurrent overwrites,
dropped keys, interrupts, chunking, the legacy 1.0 path and the intake rules."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

import segmentkit
from segmentkit import (
    Capability,
    InvalidRecipientError,
    ItemOutcome,
    NotFoundError,
    OutcomeStatus,
    OutcomeUnknownError,
    Page,
    Provider,
    Recipient,
    Segment,
    SegmentKind,
    SegmentQuery,
    ValidationError,
)
from segmentkit.adapter.stores import (
    AlreadyMember,
    BatchStore,
    ItemResult,
    MemberSet,
    MemberSetStore,
    PerMemberStore,
    Refusal,
)
from segmentkit.hookspecs import hookimpl
from segmentkit.membership import Interrupted, Progress

S = OutcomeStatus


def phone(i: int) -> str:
    return f"+39333{i:07d}"


class _Creds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: SecretStr


class _Base(Provider):
    """Segment reads over ``self.world`` (a dict shared by every client of the class)."""

    channel = "sms"
    default_base_url = "https://stub.invalid/"
    Credentials = _Creds
    world: ClassVar[dict[str, Any]]

    def auth_headers(self) -> dict[str, str]:
        return {}

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        return Page(items=[self.get_segment("1")])

    def get_segment(self, segment_id: str) -> Segment:
        if segment_id != "1":
            raise NotFoundError("no such segment", provider=self.name, status_code=404)
        return Segment(id="1", name="s", kind=SegmentKind.static, provider=self.name)

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        return Page(items=[Recipient(phone=str(p)) for p in self.keys()])

    @classmethod
    def keys(cls) -> list[Hashable]:
        raise NotImplementedError


def connect(cls: type[Provider], **options: Any) -> segmentkit.Client:
    plugin = types.SimpleNamespace(
        segmentkit_register_providers=hookimpl(lambda register: register(cls))
    )
    registry = segmentkit.create_registry(entry_points=False, plugins=[plugin], env={})
    options.setdefault("backoff_base", 0.0)
    return segmentkit.connect(
        cls.name, api_key="stub-key-1234", registry=registry, _sleep=lambda s: None, **options
    )


# ---------------------------------------------------------------------------------- whole lists


class WholeList(_Base, MemberSetStore):
    name = "stubset"
    world: ClassVar[dict[str, Any]] = {}
    #: called with the keys about to be stored; may change what is stored
    on_write: ClassVar[Callable[[list[Hashable]], list[Hashable]] | None] = None
    writes: ClassVar[int] = 0

    @classmethod
    def reset(cls, keys: list[Hashable]) -> None:
        cls.world = {"keys": list(keys)}
        cls.on_write = None
        cls.writes = 0

    @classmethod
    def keys(cls) -> list[Hashable]:
        return list(cls.world["keys"])

    def read_members(self, segment_id: str) -> MemberSet:
        return MemberSet(keys=tuple(self.world["keys"]))

    def member_keys(
        self, segment_id: str, current: MemberSet, recipients: Sequence[Recipient], *, create: bool
    ) -> Sequence[Hashable | Refusal | None]:
        out: list[Hashable | Refusal | None] = []
        for r in recipients:
            if r.phone and r.phone.endswith("666"):
                out.append(Refusal("belongs to another account"))
            else:
                out.append(r.phone)
        return out

    def write_members(
        self, segment_id: str, current: MemberSet, keys: Sequence[Hashable]
    ) -> MemberSet:
        cls = type(self)
        cls.writes += 1
        stored = list(keys)
        if cls.on_write is not None:
            stored = cls.on_write(stored)
        time.sleep(0.002)  # widen the race window for the lock test
        cls.world["keys"] = stored
        return MemberSet(keys=tuple(stored))


@pytest.fixture
def whole() -> type[WholeList]:
    WholeList.reset([phone(0)])
    return WholeList


def test_whole_list_add_reports_one_outcome_per_item(whole: type[WholeList]) -> None:
    client = connect(whole)
    items = [phone(0), phone(1), "garbage", phone(1), "+39333000666"]
    result = client.recipients.add("1", items)
    assert [o.status for o in result] == [S.unchanged, S.added, S.rejected, S.unchanged, S.failed]
    assert [o.index for o in result] == list(range(5))
    assert "another account" in (result.items[4].reason or "")
    assert whole.world["keys"] == [phone(0), phone(1)]
    assert whole.writes == 1


def test_concurrent_overwrite_is_merged_not_lost(whole: type[WholeList]) -> None:
    """Another writer saves its stale copy plus its own member right after our write: the
    read-back shows ours missing together with other changes, so the engine merges again."""
    intruder = phone(99)

    def overwrite(keys: list[Hashable]) -> list[Hashable]:
        whole.on_write = None
        return [phone(0), intruder]

    whole.on_write = overwrite
    result = connect(whole).recipients.add("1", [phone(1), phone(2)])
    assert [o.status for o in result] == [S.added, S.added]
    assert sorted(whole.world["keys"]) == sorted([phone(0), phone(1), phone(2), intruder])
    assert whole.writes == 2


def test_keys_the_platform_drops_fail_without_endless_rounds(whole: type[WholeList]) -> None:
    whole.on_write = lambda keys: [k for k in keys if k != phone(2)]
    result = connect(whole).recipients.add("1", [phone(1), phone(2)])
    assert [o.status for o in result] == [S.added, S.failed]
    assert "did not keep" in (result.items[1].reason or "")
    assert whole.writes == 1


def test_a_lone_dropped_key_is_told_apart_from_an_overwrite(whole: type[WholeList]) -> None:
    whole.on_write = lambda keys: [k for k in keys if k != phone(2)]
    result = connect(whole).recipients.add("1", [phone(2)])
    assert [o.status for o in result] == [S.failed]
    assert whole.writes == 1, "the rest of the list was stored as sent: a drop, not a race"


def test_remove_from_whole_list(whole: type[WholeList]) -> None:
    whole.reset([phone(0), phone(1), phone(2)])
    result = connect(whole).recipients.remove("1", [phone(1), phone(5)])
    assert [o.status for o in result] == [S.removed, S.unchanged]
    assert whole.world["keys"] == [phone(0), phone(2)]


def test_two_clients_of_one_account_share_the_segment_lock(whole: type[WholeList]) -> None:
    """The lock comes from the coordination layer keyed by provider + account + segment, so
    two separately built clients never interleave their read-modify-writes."""
    whole.reset([])
    clients = [connect(whole), connect(whole)]
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(c: segmentkit.Client, base: int) -> None:
        try:
            for i in range(10):
                results.append(c.recipients.add("1", [phone(base + i)]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, 100 * k)) for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert all(o.status is S.added for r in results for o in r)
    assert len(whole.world["keys"]) == 20, "no member reported added was lost"
    assert whole.writes == 20, "every write merged on the first try: writers were serialised"


def test_interrupt_during_a_whole_list_write_reports_unknown(whole: type[WholeList]) -> None:
    def boom(keys: list[Hashable]) -> list[Hashable]:
        raise KeyboardInterrupt

    whole.on_write = boom
    with pytest.raises(Interrupted) as info:
        connect(whole).recipients.add("1", [phone(0), phone(1)])
    result = info.value.result
    assert [o.status for o in result] == [S.unchanged, S.failed]
    assert "outcome unknown" in (result.items[1].reason or "")


# ---------------------------------------------------------------------------------- per member


class OneByOne(_Base, PerMemberStore):
    name = "stubone"
    world: ClassVar[dict[str, Any]] = {}
    lock = threading.Lock()

    @classmethod
    def reset(cls, members: list[str]) -> None:
        cls.world = {
            "members": [(f"m{i}", p) for i, p in enumerate(members)],
            "serial": len(members),
            "reads": 0,
            "posts": [],
            "lose_answer": set(),  # phones whose first POST is applied, answer lost
            "fail_before": set(),  # phones whose first POST is not applied, answer lost
            "refuse": set(),
            "interrupt_at": None,
        }

    @classmethod
    def keys(cls) -> list[Hashable]:
        return [p for _, p in cls.world["members"]]

    def members_by_identity(self, segment_id: str) -> Mapping[str, Sequence[str]]:
        w = self.world
        with self.lock:
            w["reads"] += 1
            out: dict[str, list[str]] = {}
            for mid, p in w["members"]:
                out.setdefault(p, []).append(mid)
            return out

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        w = self.world
        p = recipient.phone or ""
        with self.lock:
            w["posts"].append(p)
            n = len(w["posts"])
        if w["interrupt_at"] is not None and n == w["interrupt_at"]:
            raise KeyboardInterrupt
        time.sleep(0.001)
        if p in w["refuse"]:
            raise ValidationError("The phone is invalid.", provider=self.name, status_code=422)
        if p in self.keys():
            raise AlreadyMember(p)
        if p in w["fail_before"]:
            w["fail_before"].discard(p)
            raise OutcomeUnknownError("connection reset", provider=self.name)
        with self.lock:
            w["serial"] += 1
            w["members"].append((f"m{w['serial']}", p))
        if p in w["lose_answer"]:
            w["lose_answer"].discard(p)
            raise OutcomeUnknownError("answer lost", provider=self.name)

    def remove_member(self, segment_id: str, member_id: str) -> None:
        with self.lock:
            before = len(self.world["members"])
            self.world["members"] = [(m, p) for m, p in self.world["members"] if m != member_id]
            if len(self.world["members"]) == before:
                raise NotFoundError("Record Not Found", provider=self.name, status_code=404)


@pytest.fixture
def one() -> type[OneByOne]:
    OneByOne.reset([phone(0)])
    return OneByOne


def test_lost_answers_are_looked_up_once_per_round_and_never_duplicated(
    one: type[OneByOne],
) -> None:
    one.world["lose_answer"] = {phone(1), phone(2)}
    one.world["fail_before"] = {phone(3)}
    people = [phone(i) for i in range(6)]
    result = connect(one, concurrency=4).recipients.add("1", people)
    assert [o.status for o in result] == [S.unchanged] + [S.added] * 5
    assert sorted(one.keys()) == sorted(people), "each member stored exactly once"
    assert one.world["reads"] == 2, "one read before, one re-read for the round"
    assert one.world["posts"].count(phone(3)) == 2, "only the write not applied is re-sent"
    assert one.world["posts"].count(phone(1)) == 1
    assert result.items[3].attempts == 2


def test_already_member_and_refusals_per_item(one: type[OneByOne]) -> None:
    one.world["refuse"] = {phone(2)}
    result = connect(one).recipients.add("1", [phone(1), phone(2)])
    assert [o.status for o in result] == [S.added, S.rejected]
    assert "invalid" in (result.items[1].reason or "")


def test_remove_every_copy_and_already_gone_is_unchanged(one: type[OneByOne]) -> None:
    one.reset([phone(1), phone(1), phone(2)])
    result = connect(one).recipients.remove("1", [phone(1), phone(3), {"id": "m2"}])
    assert [o.status for o in result] == [S.removed, S.unchanged, S.removed]
    assert one.keys() == []


def test_interrupt_cancels_queued_writes_and_carries_the_partial_result(
    one: type[OneByOne],
) -> None:
    one.reset([])
    one.world["interrupt_at"] = 5
    people = [phone(i) for i in range(200)]
    with pytest.raises(Interrupted) as info:
        connect(one, concurrency=4).recipients.add("1", people)
    assert isinstance(info.value, KeyboardInterrupt)
    result = info.value.result
    assert len(result) == 200, "exactly one outcome per input item"
    added = [o for o in result if o.status is S.added]
    not_started = [o for o in result if "not started" in (o.reason or "")]
    assert len(one.world["posts"]) < 50, "queued writes were cancelled, not drained"
    assert not_started, "what was never sent says so"
    stored = set(one.keys())
    assert {o.recipient.phone for o in added if o.recipient} <= stored
    time.sleep(0.05)  # let workers that were mid-call finish before the next test


def test_progress_counts_each_item_once(one: type[OneByOne]) -> None:
    one.world["lose_answer"] = {phone(1)}
    seen: list[Progress] = []
    calls: list[tuple[str, int, int]] = []
    connect(one).recipients.add(
        "1",
        [phone(i) for i in range(4)],
        progress=lambda *a: calls.append(a),
        on_progress=seen.append,
    )
    assert calls[-1] == ("adding", 4, 4)
    assert max(done for _, done, _ in calls) == 4
    assert seen[-1].done == seen[-1].total == 4
    assert seen[-1].requests_estimate == 5
    assert all(p.eta is None or p.eta >= 0 for p in seen)


# ---------------------------------------------------------------------------------- batches


class Batches(_Base, BatchStore):
    name = "stubbatch"
    max_batch = 3
    world: ClassVar[dict[str, Any]] = {}

    @classmethod
    def keys(cls) -> list[Hashable]:
        return list(cls.world["keys"])

    def add_batch(self, segment_id: str, recipients: Sequence[Recipient]) -> Sequence[ItemResult]:
        self.world["calls"] += 1
        if self.world.get("short"):
            return [ItemResult("added")]
        out: list[ItemResult] = []
        for r in recipients:
            if r.phone in self.world["keys"]:
                out.append(ItemResult("unchanged", "already a member"))
            else:
                self.world["keys"].append(r.phone)
                out.append(ItemResult("added"))
        return out

    def remove_batch(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemResult]:
        self.world["calls"] += 1
        return [ItemResult("removed") for _ in recipients]


def test_batches_are_chunked_and_mapped() -> None:
    Batches.world = {"keys": [phone(0)], "calls": 0}
    result = connect(Batches).recipients.add("1", [phone(i) for i in range(7)])
    assert [o.status for o in result] == [S.unchanged] + [S.added] * 6
    assert Batches.world["calls"] == 3


def test_a_short_batch_answer_fails_its_items_not_the_call() -> None:
    Batches.world = {"keys": [], "calls": 0, "short": True}
    result = connect(Batches).recipients.add("1", [phone(1), phone(2)])
    assert [o.status for o in result] == [S.failed, S.failed]


# ---------------------------------------------------------------------------------- legacy + intake


class Legacy(_Base):
    name = "stublegacy"
    world: ClassVar[dict[str, Any]] = {"keys": []}

    @classmethod
    def keys(cls) -> list[Hashable]:
        return list(cls.world["keys"])

    def add_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        return [ItemOutcome(index=i, status=S.added) for i in range(len(recipients))]


def test_an_adapter_api_1_0_override_still_works_with_a_warning() -> None:
    client = connect(Legacy)
    assert Capability.add_recipients in client.capabilities
    assert Capability.remove_recipients not in client.capabilities
    with pytest.warns(DeprecationWarning, match="membership shape"):
        result = client.recipients.add("1", [phone(1)])
    assert [o.status for o in result] == [S.added]


class LegacyPool(Legacy):
    """A 1.0 adapter that ran its own writes through ``map_concurrent``."""

    name = "stublegacypool"

    def add_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        return self.map_concurrent(
            lambda i: ItemOutcome(index=i, status=S.added), list(range(len(recipients)))
        )


def test_map_concurrent_still_works_and_says_it_is_deprecated() -> None:
    client = connect(LegacyPool)
    with (
        pytest.warns(DeprecationWarning, match="overrides add_recipients"),
        pytest.warns(DeprecationWarning, match=r"LegacyPool\.map_concurrent is adapter API 1\.0"),
    ):
        result = client.recipients.add("1", [phone(1), phone(2), phone(3)])
    assert [o.status for o in result] == [S.added] * 3


@pytest.mark.parametrize("bad", ["+393331234567", b"+39", {"phone": "+393331234567"}, 5, None])
def test_a_lone_value_instead_of_a_collection_is_refused_before_any_request(
    one: type[OneByOne], bad: Any
) -> None:
    with pytest.raises(InvalidRecipientError):
        connect(one).recipients.add("1", bad)
    with pytest.raises(InvalidRecipientError):
        connect(one).recipients.sync("1", bad)
    assert one.world["reads"] == 0
    assert one.world["posts"] == []


def test_odd_items_are_one_rejected_outcome_each_and_the_rest_proceed(
    one: type[OneByOne],
) -> None:
    result = connect(one).recipients.add("1", [None, 3.5, True, "²", phone(1)])
    assert [o.status for o in result] == [S.rejected] * 4 + [S.added]
    removed = connect(one).recipients.remove("1", ["²", {"id": "²"}, phone(1)])
    assert [o.status for o in removed] == [S.rejected, S.rejected, S.removed]


# ---------------------------------------------------------------------------------- session hooks


class _Session:
    """A stand-in for ``adapter.http`` recording ``on_wait`` listeners and ``interrupt`` calls;
    everything else goes to the adapter's real session."""

    def __init__(self) -> None:
        self.waiters: list[Callable[[float, str], None]] = []
        self.interrupted = 0
        self.real: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["real"], name)

    def on_wait(self, cb: Callable[[float, str], None]) -> Callable[[], None]:
        self.waiters.append(cb)
        return lambda: self.waiters.remove(cb)

    def interrupt(self) -> None:
        self.interrupted += 1


class WithSession(OneByOne):
    name = "stubsession"
    session_obj: ClassVar[_Session] = _Session()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_obj.real = self.http
        self.http = self.session_obj  # type: ignore[assignment]

    def add_member(self, segment_id: str, recipient: Recipient) -> None:
        for cb in list(self.session_obj.waiters):
            cb(2.5, "rate limit")
        super().add_member(segment_id, recipient)


def test_waits_are_reported_and_an_interrupt_wakes_the_session() -> None:
    WithSession.reset([])
    WithSession.session_obj = _Session()
    seen: list[Progress] = []
    connect(WithSession).recipients.add("1", [phone(1)], on_progress=seen.append)
    assert any(p.waiting_for_rate_limit == 2.5 for p in seen)
    assert WithSession.session_obj.waiters == [], "the listener is removed afterwards"
    WithSession.world["interrupt_at"] = 2
    with pytest.raises(Interrupted):
        connect(WithSession, concurrency=2).recipients.add("1", [phone(i) for i in range(2, 9)])
    assert WithSession.session_obj.interrupted >= 1
    time.sleep(0.05)


# ---------------------------------------------------------------------------------- resolve


def test_find_or_create_looks_before_creating_and_hands_create_the_lookup() -> None:
    from segmentkit.membership.resolve import find_or_create

    store: dict[str, int] = {}
    created: list[str] = []

    def create(reconcile: Callable[[], int | None]) -> int:
        created.append("x")
        store["x"] = 7  # applied, then the answer is "lost": the lookup finds it
        found = reconcile()
        assert found == 7
        return found

    assert find_or_create(lambda: store.get("x"), create) == 7
    assert find_or_create(lambda: store.get("x"), create) == 7
    assert created == ["x"], "the second call found it and created nothing"


def test_an_interrupted_sync_carries_a_sync_result_and_holds_the_removals(
    one: type[OneByOne],
) -> None:
    from segmentkit.sync import SyncResult

    one.reset([phone(0)])
    one.world["interrupt_at"] = 3
    with pytest.raises(Interrupted) as info:
        connect(one, concurrency=2).recipients.sync("1", [phone(i) for i in range(1, 40)])
    result = info.value.result
    assert isinstance(result, SyncResult)
    assert result.added is not None
    assert len(result.added) == 39
    assert [h.recipient.phone for h in result.held] == [phone(0)]
    stored = one.keys()
    assert phone(0) in stored, "nothing was removed after the interrupt"
    assert "held 1" in result.summary()
    time.sleep(0.05)
