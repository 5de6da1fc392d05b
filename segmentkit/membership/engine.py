"""The membership engine: add and remove over the three store shapes, written once.

Adapters supply primitives (:mod:`segmentkit.adapter.stores`); this module owns

* the per-segment lock for whole-list stores, taken from the coordination layer and keyed by
  provider + account + segment (:func:`segment_lock`), so two clients of one account share it
  (and processes too, once a host backend is configured);
* read-modify-write rounds with read-back: a member another writer added meanwhile is merged,
  not lost, and keys the platform silently drops are told apart from concurrent overwrites;
* concurrent per-member writes in reconcile rounds: send concurrently, ONE re-read per round,
  re-send only what is absent; no write whose outcome is unknown is re-sent before a look;
* chunked batches;
* exactly one :class:`~segmentkit.models.ItemOutcome` per input item, and progress;
* Ctrl-C: queued work is cancelled at once (never ``with ThreadPoolExecutor``, whose exit
  waits for the queue), the session's waits are woken, and :class:`Interrupted` carries what
  was done and what was not started.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..adapter.stores import (
    AlreadyMember,
    BatchStore,
    ItemResult,
    MemberSetStore,
    PerMemberStore,
    Refusal,
    store_shape,
)
from ..coordination import Lease, get_coordinator, scope_key
from ..errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    SegmentkitError,
    ServerError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    ValidationError,
)
from ..models import BulkResult, ItemOutcome, OutcomeStatus, Recipient
from .intake import Admission
from .progress import Reporter

if TYPE_CHECKING:
    from ..http.session import Session
    from ..provider import Provider

__all__ = [
    "Interrupted",
    "add",
    "estimate_requests",
    "legacy_overrides",
    "remove",
    "run",
    "segment_lock",
]

Op = Literal["add", "remove"]
T = TypeVar("T")
R = TypeVar("R")

#: Rounds of read-modify-write before giving up on a segment that keeps changing.
MERGE_ROUNDS = 4
#: How long an interrupted operation waits for writes already on the wire (seconds).
INFLIGHT_GRACE = 1.0
#: Errors that leave a write's outcome unknown: look before re-sending.
_UNKNOWN = (OutcomeUnknownError, ServerError, UnexpectedResponseError)
#: Errors about the whole call (account, segment), raised instead of settled per item.
_WHOLE = (AuthenticationError, PermissionDeniedError, NotFoundError, UnsupportedOperationError)
_NOT_STARTED = "not started: interrupted"
_IN_FLIGHT = "interrupted while being written; outcome unknown (check the segment)"


class Interrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` during a bulk write, carrying the partial result.

    ``result`` is the :class:`~segmentkit.models.BulkResult` (or the sync's ``SyncResult``)
    so far: what was done, what was in flight (``failed``, outcome unknown) and what was not
    started (``failed``, "not started: interrupted").
    """

    def __init__(self, result: Any) -> None:
        super().__init__("interrupted")
        self.result = result


# ---------------------------------------------------------------------------------- locks


def _account(adapter: Provider) -> list[str]:
    # The credentials alone name the account: the same key reached through two spellings of
    # one host (127.0.0.1 / localhost, a brand's alias domain) must share the lock. A key used
    # on two different servers only serialises more than needed, which is harmless.
    return list(type(adapter).secret_values(adapter.credentials))


def segment_lock(adapter: Provider, segment_id: str) -> AbstractContextManager[Lease]:
    """The lock serialising writes to one segment of one account: every client of that
    account in this process (and, with a host/redis coordination backend, beyond) shares it.
    The key is a one-way hash of provider, credentials and segment id (not the base URL,
    whose spelling varies for one account)."""
    options = adapter.transport.options
    coordinator = get_coordinator(getattr(options, "coordination", None))
    timeout = float(getattr(options, "lock_timeout", None) or 120.0)
    scope = scope_key("segment", adapter.name, *_account(adapter), str(segment_id))
    return coordinator.lock(scope, timeout=timeout)


def _session(adapter: Provider) -> Session:
    return adapter.http


def _interrupt_session(adapter: Provider) -> None:
    with contextlib.suppress(Exception):  # waking waits is best effort
        adapter.http.interrupt()


def _pause(adapter: Provider, round_no: int, pending: int) -> None:
    """Back off between reconcile rounds, through the session's retry policy."""
    adapter.http.backoff(round_no, RuntimeError(f"{pending} writes not applied"))


def _can_retry(adapter: Provider, round_no: int) -> bool:
    return adapter.http.can_retry(round_no)


# ---------------------------------------------------------------------------------- outcomes


@dataclass
class _Settled:
    status: OutcomeStatus
    reason: str | None = None
    attempts: int = 1


class _Book:
    """The outcome of every valid item, settled exactly once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.done: dict[int, _Settled] = {}
        self.in_flight: set[int] = set()
        self._lock = threading.Lock()

    def settle(
        self, pos: int, status: OutcomeStatus, reason: str | None = None, attempts: int = 1
    ) -> None:
        with self._lock:
            self.done.setdefault(pos, _Settled(status, reason, attempts))
            self.in_flight.discard(pos)

    def rest(self, status: OutcomeStatus, reason: str) -> None:
        for pos in range(self.n):
            self.settle(pos, status, reason, 0)

    def interrupted(self) -> None:
        for pos in sorted(self.in_flight):
            self.settle(pos, OutcomeStatus.failed, _IN_FLIGHT)
        self.rest(OutcomeStatus.failed, _NOT_STARTED)


def _result(adm: Admission, book: _Book) -> BulkResult:
    out = dict(adm.outcomes)
    for pos, i in enumerate(adm.origin):
        s = book.done.get(pos) or _Settled(OutcomeStatus.failed, _NOT_STARTED, 0)
        out[i] = ItemOutcome(
            index=i,
            status=s.status,
            recipient=adm.valid[pos],
            reason=s.reason,
            input=adm.items[i],
            attempts=s.attempts,
        )
    return BulkResult(items=tuple(out[i] for i in range(len(adm.items))))


# ---------------------------------------------------------------------------------- entry


def legacy_overrides(cls: type) -> bool:
    """Whether ``cls`` (no store shape) still overrides ``add_recipients``/
    ``remove_recipients`` itself: the adapter API 1.0 path."""
    from ..provider import Provider

    return store_shape(cls) is None and any(
        getattr(cls, name) is not getattr(Provider, name)
        for name in ("add_recipients", "remove_recipients")
    )


def run(
    adapter: Provider,
    segment_id: str,
    adm: Admission,
    op: Op,
    reporter: Reporter | None = None,
) -> BulkResult:
    """Apply ``op`` for the admitted items; one outcome per input item, in input order.

    Raises :class:`Interrupted` (a ``KeyboardInterrupt``) carrying the partial
    :class:`BulkResult` when interrupted.
    """
    reporter = reporter or Reporter()
    book = _Book(len(adm.valid))
    if not adm.valid:
        return _result(adm, book)
    phase = "adding" if op == "add" else "removing"
    detach = reporter.attach(_session(adapter))
    try:
        reporter.start(phase, len(adm.valid), estimate_requests(adapter, len(adm.valid), op))
        try:
            _dispatch(adapter, str(segment_id), adm.valid, op, book, reporter)
        except Interrupted:
            raise
        except KeyboardInterrupt:
            _interrupt_session(adapter)
            book.interrupted()
            raise Interrupted(_result(adm, book)) from None
        reporter.finish()
    finally:
        detach()
    return _result(adm, book)


def _dispatch(
    adapter: Provider,
    sid: str,
    valid: list[Recipient],
    op: Op,
    book: _Book,
    reporter: Reporter,
) -> None:
    if isinstance(adapter, MemberSetStore):
        _member_set(adapter, sid, valid, op, book, reporter)
    elif isinstance(adapter, PerMemberStore):
        if op == "add":
            _per_member_add(adapter, sid, valid, book, reporter)
        else:
            _per_member_remove(adapter, sid, valid, book, reporter)
    elif isinstance(adapter, BatchStore):
        _batches(adapter, sid, valid, op, book, reporter)
    elif legacy_overrides(type(adapter)):
        _legacy(adapter, sid, valid, op, book, reporter)
    else:
        raise adapter.unsupported("adding recipients" if op == "add" else "removing recipients")


def add(
    adapter: Provider, segment_id: str, adm: Admission, reporter: Reporter | None = None
) -> BulkResult:
    """Add the admitted recipients (see :func:`run`)."""
    return run(adapter, segment_id, adm, "add", reporter)


def remove(
    adapter: Provider, segment_id: str, adm: Admission, reporter: Reporter | None = None
) -> BulkResult:
    """Remove the admitted recipients (see :func:`run`)."""
    return run(adapter, segment_id, adm, "remove", reporter)


def estimate_requests(adapter: Provider, n: int, op: Op) -> int:
    """Requests an operation on ``n`` items is expected to send (without retries)."""
    if n <= 0:
        return 0
    if isinstance(adapter, MemberSetStore):
        return 3  # read, write, read back (contact look-ups/creates come on top)
    if isinstance(adapter, BatchStore):
        size = max(1, int(type(adapter).max_batch))
        return -(-n // size)
    return 1 + n  # one read, then one request per member


# ---------------------------------------------------------------------------------- concurrency


def _concurrently(
    adapter: Provider,
    fn: Callable[[T], R],
    items: Sequence[T],
    on_result: Callable[[int, R], None],
    on_start: Callable[[int], None],
) -> None:
    """Run ``fn`` over ``items`` on at most ``concurrency`` threads; ``fn`` must turn its own
    failures into results. A ``KeyboardInterrupt`` cancels every queued call at once, wakes the
    session's waits, gives writes on the wire :data:`INFLIGHT_GRACE` seconds, then re-raises.
    """
    workers = min(int(adapter.transport.options.concurrency), len(items))
    if workers <= 1:
        for k, item in enumerate(items):
            on_start(k)
            on_result(k, fn(item))
        return

    def call(k: int, item: T) -> R:
        on_start(k)
        return fn(item)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"segmentkit-{adapter.name}")
    futures: dict[Future[R], int] = {}
    # Finished calls arrive on a queue (O(1) each): wait(FIRST_COMPLETED) over every pending
    # future would install and remove a waiter on each of them per completion, O(N^2) lock
    # traffic that the main thread spends holding the GIL the workers need.
    completions: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()
    try:
        for k, item in enumerate(items):
            fut = pool.submit(call, k, item)
            futures[fut] = k
            fut.add_done_callback(completions.put)
        for _ in range(len(futures)):
            while True:
                try:
                    # Short waits keep the main thread where Ctrl-C can reach it.
                    fut = completions.get(timeout=0.2)
                    break
                except queue.Empty:
                    continue
            on_result(futures[fut], fut.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        _interrupt_session(adapter)
        running = [f for f in futures if not f.done()]
        finished, _ = wait(running, timeout=INFLIGHT_GRACE) if running else (set(), set())
        for fut in finished:
            if not fut.cancelled() and fut.exception() is None:
                on_result(futures[fut], fut.result())
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------------- whole lists


def _member_set(
    store: Any,
    sid: str,
    valid: list[Recipient],
    op: Op,
    book: _Book,
    reporter: Reporter,
) -> None:
    adapter: Provider = store
    with segment_lock(adapter, sid) as lease:
        current = store.read_members(sid)
        keys = list(store.member_keys(sid, current, valid, create=op == "add"))
        if len(keys) != len(valid):
            raise SegmentkitError(
                f"{adapter.name} member_keys returned {len(keys)} keys for {len(valid)} items"
            )
        before = set(current.keys)
        wanted: list[Hashable] = []
        removing: set[Hashable] = set()
        for pos, k in enumerate(keys):
            if isinstance(k, Refusal):
                book.settle(pos, OutcomeStatus.failed, k.reason)
            elif k is None:
                if op == "add":
                    book.settle(pos, OutcomeStatus.failed, "no member key for it")
                else:
                    book.settle(pos, OutcomeStatus.unchanged, "not a member")
            elif op == "add" and k in before:
                book.settle(pos, OutcomeStatus.unchanged, "already a member")
            elif op == "remove" and k not in before:
                book.settle(pos, OutcomeStatus.unchanged, "not a member")
            elif op == "add":
                wanted.append(k)
            else:
                removing.add(k)
        reporter.advance(len(book.done))
        for pos in range(len(valid)):
            if pos not in book.done:
                book.in_flight.add(pos)
        dropped, error = _merge(store, sid, current, dict.fromkeys(wanted), removing, lease)
        for pos, k in enumerate(keys):
            if pos in book.done:
                continue
            if k in dropped:
                book.settle(
                    pos,
                    OutcomeStatus.failed,
                    "the platform did not keep it (unknown contact id or opted out)",
                )
            elif error is not None:
                book.settle(pos, OutcomeStatus.failed, error)
            else:
                book.settle(pos, OutcomeStatus.added if op == "add" else OutcomeStatus.removed)


def _merge(
    store: Any,
    sid: str,
    current: Any,
    add: dict[Hashable, None],
    remove: set[Hashable],
    lease: Lease,
) -> tuple[set[Hashable], str | None]:
    """Read-modify-write until ``add`` is in and ``remove`` is out, reading back after each
    write so a member someone else wrote meanwhile is merged, not lost. Returns the keys the
    platform would not keep, and an error text when it gave up."""
    dropped: set[Hashable] = set()
    for _ in range(MERGE_ROUNDS):
        members = set(current.keys)
        target = [k for k in add if k not in dropped]
        if set(target) <= members and not (remove & members):
            return dropped, None
        kept = [k for k in dict.fromkeys(current.keys) if k not in remove]
        have = set(kept)
        sent = kept + [k for k in target if k not in have]
        try:
            lease.check()  # an expiring (redis) lock may have been lost: never write unlocked
            fresh = store.write_members(sid, current, sent)
        except SegmentkitError as exc:
            return dropped, str(exc)
        now = set(fresh.keys)
        lost = {k for k in target if k not in now}
        others_intact = (now | lost) == set(sent)
        if lost and (lost != set(target) or others_intact):
            # Everything else we sent is stored as sent, only these are missing: the platform
            # drops them (unknown or opted-out contact ids, API-SPEC 1.6) — not an overwrite.
            dropped |= lost
        current = fresh
    members = set(current.keys)
    if {k for k in add if k not in dropped} <= members and not (remove & members):
        return dropped, None
    return dropped, "the segment kept changing underneath; gave up after re-reading"


# ---------------------------------------------------------------------------------- per member


def _per_member_add(
    store: Any, sid: str, valid: list[Recipient], book: _Book, reporter: Reporter
) -> None:
    adapter: Provider = store
    channel = adapter.channel
    present = store.members_by_identity(sid)
    attempts = [0] * len(valid)
    causes = [""] * len(valid)
    pending: list[int] = []
    for pos, r in enumerate(valid):
        if r.identity(channel) in present:
            book.settle(pos, OutcomeStatus.unchanged, "already a member", 0)
        else:
            pending.append(pos)
    reporter.advance(len(book.done))

    def send(pos: int) -> tuple[OutcomeStatus | None, str | None]:
        attempts[pos] += 1
        try:
            store.add_member(sid, valid[pos])
        except AlreadyMember:
            return OutcomeStatus.unchanged, "already a member"
        except _UNKNOWN as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except ValidationError as exc:
            return OutcomeStatus.rejected, str(exc)
        except SegmentkitError as exc:
            return OutcomeStatus.failed, f"{type(exc).__name__}: {exc}"
        return OutcomeStatus.added, None

    round_no = 0
    while pending:
        round_no += 1
        uncertain: list[int] = []
        first = round_no == 1

        def started(k: int, batch: list[int] = pending) -> None:
            book.in_flight.add(batch[k])

        def finished(
            k: int,
            res: tuple[OutcomeStatus | None, str | None],
            batch: list[int] = pending,
            uncertain: list[int] = uncertain,
            first: bool = first,
        ) -> None:
            pos = batch[k]
            status, reason = res
            if status is None:
                causes[pos] = reason or ""
                uncertain.append(pos)
            else:
                book.settle(pos, status, reason, attempts[pos])
            if first:
                reporter.advance(1)

        _concurrently(adapter, send, pending, finished, started)
        if not uncertain:
            return
        try:
            present = store.members_by_identity(sid)
        except SegmentkitError as exc:
            # Cannot look, so must not re-send: report what is known.
            for pos in uncertain:
                book.settle(
                    pos,
                    OutcomeStatus.failed,
                    f"outcome unknown ({causes[pos]}) and the segment could not be re-read: "
                    f"{type(exc).__name__}: {exc}",
                    attempts[pos],
                )
            return
        pending = []
        for pos in uncertain:
            if valid[pos].identity(channel) in present:
                book.settle(pos, OutcomeStatus.added, None, attempts[pos])
            elif _can_retry(adapter, round_no):
                pending.append(pos)
            else:
                book.settle(
                    pos,
                    OutcomeStatus.failed,
                    f"not stored after {attempts[pos]} attempts; last: {causes[pos]}",
                    attempts[pos],
                )
        if pending:
            _pause(adapter, round_no, len(pending))


def _per_member_remove(
    store: Any, sid: str, valid: list[Recipient], book: _Book, reporter: Reporter
) -> None:
    adapter: Provider = store
    channel = adapter.channel
    by_identity = store.members_by_identity(sid)
    known = {mid for ids in by_identity.values() for mid in ids}
    plans: list[tuple[int, list[str]]] = []
    for pos, r in enumerate(valid):
        if r.id and r.id in known:
            ids = [r.id]
        else:
            # Every stored copy goes: the platform may hold duplicates (allstech Unknowns 10).
            ids = list(by_identity.get(r.identity(channel) or "", ()))
        if ids:
            plans.append((pos, ids))
        else:
            book.settle(pos, OutcomeStatus.unchanged, "not a member", 0)
    reporter.advance(len(book.done))

    def delete(entry: tuple[int, list[str]]) -> tuple[OutcomeStatus, str | None]:
        removed = 0
        for mid in entry[1]:
            try:
                store.remove_member(sid, mid)
            except NotFoundError:
                continue  # already gone
            except SegmentkitError as exc:
                return OutcomeStatus.failed, f"{type(exc).__name__}: {exc}"
            removed += 1
        if removed:
            return OutcomeStatus.removed, None
        return OutcomeStatus.unchanged, "already removed"

    def started(k: int) -> None:
        book.in_flight.add(plans[k][0])

    def finished(k: int, res: tuple[OutcomeStatus, str | None]) -> None:
        book.settle(plans[k][0], res[0], res[1])
        reporter.advance(1)

    _concurrently(adapter, delete, plans, finished, started)


# ---------------------------------------------------------------------------------- batches


_BATCH_STATUS = {
    "added": OutcomeStatus.added,
    "removed": OutcomeStatus.removed,
    "unchanged": OutcomeStatus.unchanged,
    "rejected": OutcomeStatus.rejected,
    "failed": OutcomeStatus.failed,
}


def _batches(
    store: Any, sid: str, valid: list[Recipient], op: Op, book: _Book, reporter: Reporter
) -> None:
    size = max(1, int(type(store).max_batch))
    call = store.add_batch if op == "add" else store.remove_batch
    for start in range(0, len(valid), size):
        chunk = list(range(start, min(len(valid), start + size)))
        book.in_flight.update(chunk)
        try:
            results: Sequence[ItemResult] = list(call(sid, [valid[p] for p in chunk]))
        except _WHOLE:
            book.in_flight.difference_update(chunk)
            if start == 0:
                raise
            book.rest(OutcomeStatus.failed, "not sent: an earlier batch failed")
            return
        except SegmentkitError as exc:
            for pos in chunk:
                book.settle(pos, OutcomeStatus.failed, f"{type(exc).__name__}: {exc}")
            reporter.advance(len(chunk))
            continue
        if len(results) != len(chunk):
            for pos in chunk:
                book.settle(
                    pos,
                    OutcomeStatus.failed,
                    f"the batch answer had {len(results)} results for {len(chunk)} items",
                )
        else:
            for pos, res in zip(chunk, results, strict=True):
                book.settle(pos, _BATCH_STATUS.get(res.status, OutcomeStatus.failed), res.reason)
        reporter.advance(len(chunk))


# ---------------------------------------------------------------------------------- legacy


def _legacy(
    adapter: Provider, sid: str, valid: list[Recipient], op: Op, book: _Book, reporter: Reporter
) -> None:
    warnings.warn(
        f"{type(adapter).__name__} overrides {op}_recipients (adapter API 1.0); implement one "
        "membership shape from segmentkit.adapter.stores instead — this path goes away in 2.0",
        DeprecationWarning,
        stacklevel=4,
    )
    fn = adapter.add_recipients if op == "add" else adapter.remove_recipients
    results = list(fn(sid, valid))
    if len(results) != len(valid):
        raise SegmentkitError(
            f"{adapter.name} adapter returned {len(results)} outcomes for {len(valid)} recipients"
        )
    for pos, res in enumerate(results):
        target = res.index if 0 <= res.index < len(valid) else pos
        book.settle(target, res.status, res.reason, res.attempts)
    reporter.advance(len(valid))
