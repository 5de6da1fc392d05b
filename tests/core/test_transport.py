"""Retry policy, Retry-After parsing, client-side pacing and the Provider's retry decisions.

Nothing here sleeps: clocks and ``sleep`` are injected.
"""

from __future__ import annotations

import random
import threading

import pytest
import requests.structures

from segmentkit import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    SegmentQuery,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from segmentkit.transport import ClientOptions, Pacer, RetryPolicy, parse_retry_after

# ----------------------------------------------------------------------------- RetryPolicy


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_retry_delay_is_jittered_within_half_to_full_exponential_ceiling(attempt):
    policy = RetryPolicy(max_retries=10, backoff_base=0.5, backoff_max=8.0)
    rng = random.Random(1234)
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    delays = [policy.delay(attempt, rng) for _ in range(500)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    # jitter actually spreads over the range
    assert max(delays) - min(delays) > ceiling / 4


def test_retry_delay_is_capped_at_backoff_max():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=3.0)
    rng = random.Random(0)
    assert all(1.5 <= policy.delay(20, rng) <= 3.0 for _ in range(200))


def test_retry_delay_is_deterministic_with_a_seeded_rng():
    policy = RetryPolicy()
    a = [policy.delay(n, random.Random(7)) for n in range(1, 5)]
    b = [policy.delay(n, random.Random(7)) for n in range(1, 5)]
    assert a == b


def test_retry_after_replaces_backoff():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0, max_retry_wait=60.0)
    assert policy.delay(1, random.Random(0), retry_after=12.5) == 12.5
    assert policy.delay(5, random.Random(0), retry_after=0.0) == 0.0


def test_retry_after_is_capped_at_max_retry_wait():
    policy = RetryPolicy(max_retry_wait=30.0)
    assert policy.delay(1, random.Random(0), retry_after=3600) == 30.0


def test_negative_retry_after_waits_zero():
    assert RetryPolicy().delay(1, random.Random(0), retry_after=-5) == 0.0


def test_can_retry_allows_exactly_max_retries():
    policy = RetryPolicy(max_retries=3)
    assert [policy.can_retry(n) for n in range(1, 6)] == [True, True, True, False, False]
    assert not RetryPolicy(max_retries=0).can_retry(1)


# ----------------------------------------------------------------------------- parse_retry_after

WALL = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"X-RateLimit-Reset": "30"}, 30.0),
        ({"X-RateLimit-Reset": str(int(WALL) + 42)}, 42.0),
        ({"X-RateLimit-Reset": str(int(WALL) - 10)}, 0.0),
        ({}, None),
        ({"Retry-After": "soon"}, None),
        ({"X-RateLimit-Reset": "later"}, None),
        ({"Retry-After": ""}, None),
    ],
)
def test_parse_retry_after_forms(headers, expected):
    assert parse_retry_after(headers, wall=WALL) == expected


def test_parse_retry_after_http_date_uses_injected_wall_clock():
    # Tue, 14 Nov 2023 22:13:20 GMT == 1_700_000_000
    assert parse_retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:40 GMT"}, wall=WALL) == 20.0


def test_parse_retry_after_http_date_in_the_past_waits_zero():
    assert parse_retry_after({"Retry-After": "Tue, 14 Nov 2023 22:00:00 GMT"}, wall=WALL) == 0.0


def test_parse_retry_after_prefers_retry_after_over_reset():
    headers = {"Retry-After": "3", "X-RateLimit-Reset": "50"}
    assert parse_retry_after(headers, wall=WALL) == 3.0


def test_parse_retry_after_falls_back_to_reset_when_retry_after_is_garbage():
    headers = {"Retry-After": "whenever", "X-RateLimit-Reset": "7"}
    assert parse_retry_after(headers, wall=WALL) == 7.0


@pytest.mark.parametrize("name", ["retry-after", "RETRY-AFTER", "Retry-After", "rEtRy-AfTeR"])
def test_parse_retry_after_header_names_are_case_insensitive(name):
    assert parse_retry_after({name: "9"}, wall=WALL) == 9.0


@pytest.mark.parametrize("name", ["x-ratelimit-reset", "X-RATELIMIT-RESET", "X-RateLimit-Reset"])
def test_parse_reset_header_names_are_case_insensitive(name):
    assert parse_retry_after({name: "4"}, wall=WALL) == 4.0


def test_parse_retry_after_accepts_requests_case_insensitive_dict():
    headers = requests.structures.CaseInsensitiveDict({"RETRY-after": "6"})
    assert parse_retry_after(headers, wall=WALL) == 6.0


# ----------------------------------------------------------------------------- Pacer


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


LIMIT_5 = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4"}


def test_pacer_never_waits_before_any_rate_limit_header():
    pacer = Pacer(10.0, clock=FakeClock())
    assert [pacer.reserve() for _ in range(50)] == [0.0] * 50


def test_pacer_ignores_responses_without_limit_header():
    pacer = Pacer(10.0, clock=FakeClock())
    pacer.observe({"X-RateLimit-Remaining": "0"}, status=200, retry_after=None)
    assert pacer.reserve() == 0.0
    assert pacer.limit is None


def test_pacer_allows_remaining_requests_then_waits_for_window_end():
    clock = FakeClock(100.0)
    pacer = Pacer(10.0, clock=clock, margin=0.02)
    pacer.observe(LIMIT_5, status=200, retry_after=None)  # window anchored at 100.0
    assert [pacer.reserve() for _ in range(4)] == [0.0] * 4
    clock.advance(3.0)
    wait = pacer.reserve()
    margin = max(0.02, 10.0 * 0.005)
    assert wait == pytest.approx(10.0 - 3.0 + margin)
    # still closed a moment later, with a shorter wait
    clock.advance(5.0)
    assert pacer.reserve() == pytest.approx(10.0 - 8.0 + margin)


def test_pacer_allows_again_after_the_window_passes():
    clock = FakeClock(0.0)
    pacer = Pacer(10.0, clock=clock)
    pacer.observe(LIMIT_5, status=200, retry_after=None)
    for _ in range(4):
        pacer.reserve()
    assert pacer.reserve() > 0
    clock.advance(10.1)
    assert pacer.reserve() == 0.0
    pacer.observe(LIMIT_5, status=200, retry_after=None)  # the reopening request's answer
    # a whole new window: the reopening request took one slot, four remain
    assert [pacer.reserve() for _ in range(4)] == [0.0] * 4
    clock.advance(1.0)
    assert pacer.reserve() == pytest.approx(10.0 - 1.0 + max(0.02, 0.05))


def test_pacer_lowers_its_count_to_what_the_server_says():
    clock = FakeClock(0.0)
    pacer = Pacer(10.0, clock=clock)
    pacer.observe(LIMIT_5, status=200, retry_after=None)
    pacer.observe(
        {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "1"}, status=200, retry_after=None
    )
    assert pacer.reserve() == 0.0
    assert pacer.reserve() > 0


def test_pacer_429_with_retry_after_blocks_until_then():
    clock = FakeClock(50.0)
    pacer = Pacer(10.0, clock=clock)
    pacer.observe(
        {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0"}, status=429, retry_after=3.0
    )
    assert pacer.reserve() == pytest.approx(3.01)
    clock.advance(2.0)
    assert pacer.reserve() == pytest.approx(1.01)
    clock.advance(1.02)
    assert pacer.reserve() == 0.0


def test_pacer_without_window_does_not_invent_waits():
    pacer = Pacer(None, clock=FakeClock())
    pacer.observe(
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0"}, status=200, retry_after=None
    )
    assert pacer.reserve() == 0.0


def test_pacer_reserve_is_thread_safe():
    """Exactly ``remaining`` of many concurrent reservations go through without waiting."""
    pacer = Pacer(60.0, clock=FakeClock(0.0))
    pacer.observe(
        {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "50"}, status=200, retry_after=None
    )
    results: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait(timeout=5)
        mine = [pacer.reserve() for _ in range(10)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(results) == 200
    assert results.count(0.0) == 50


# ----------------------------------------------------------------------------- ClientOptions


def test_client_options_refuse_unknown_option():
    with pytest.raises(ValueError, match="retires"):
        ClientOptions(retires=3)  # type: ignore[call-arg]


# ----------------------------------------------------------------------------- Provider.retry_delay


@pytest.fixture
def adapter(srv, sleeps):
    return srv.client(_sleep=sleeps, max_retries=3).adapter


GET_RETRIED = [
    ConnectionFailedError("refused"),
    RequestTimeoutError("slow"),
    RateLimitError("slow down", status_code=429),
    ServerError("boom", status_code=503),
    UnexpectedResponseError("not JSON", status_code=200),
    UnexpectedResponseError("empty"),
    OutcomeUnknownError("lost"),
]


@pytest.mark.parametrize("exc", GET_RETRIED, ids=lambda e: type(e).__name__)
def test_retry_delay_retries_idempotent_request_on_transient_failures(adapter, exc):
    delay = adapter.retry_delay(exc, idempotent=True, attempt=1)
    assert delay is not None
    assert delay >= 0


@pytest.mark.parametrize(
    "exc",
    [
        AuthenticationError("no", status_code=401),
        NotFoundError("no", status_code=404),
        ValidationError("no", status_code=422),
        UnexpectedResponseError("redirect", status_code=302),
        ValueError("not ours"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_retry_delay_never_retries_permanent_failures(adapter, exc):
    assert adapter.retry_delay(exc, idempotent=True, attempt=1) is None


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionFailedError("reset after sending"),
        RequestTimeoutError("read timeout"),
        OutcomeUnknownError("lost"),
        ServerError("boom", status_code=500),
        ServerError("boom", status_code=503, retry_after=1.0),
        UnexpectedResponseError("not JSON", status_code=200),
    ],
    ids=lambda e: type(e).__name__,
)
def test_retry_delay_does_not_resend_write_that_may_have_been_applied(adapter, exc):
    assert adapter.retry_delay(exc, idempotent=False, attempt=1) is None


def test_retry_delay_resends_write_that_never_left(adapter):
    exc = ConnectionFailedError("refused", request_sent=False)
    assert adapter.retry_delay(exc, idempotent=False, attempt=1) is not None


def test_retry_delay_resends_write_on_429_honouring_retry_after(adapter):
    exc = RateLimitError("slow down", status_code=429, retry_after=2.0)
    assert adapter.retry_delay(exc, idempotent=False, attempt=1) == 2.0


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize(
    "exc",
    [
        RateLimitError("slow", retry_after=1.0),
        ConnectionFailedError("refused", request_sent=False),
        ServerError("boom"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_retry_delay_gives_up_after_max_retries(adapter, exc, idempotent):
    assert adapter.retry_delay(exc, idempotent=idempotent, attempt=4) is None


def test_retry_delay_server_error_backoff_uses_retry_after(adapter):
    exc = ServerError("busy", status_code=503, retry_after=4.0)
    assert adapter.retry_delay(exc, idempotent=True, attempt=1) == 4.0


# ----------------------------------------------------------------------------- retries end to end


def test_get_is_retried_after_503_then_succeeds_without_real_sleep(any_srv, sleeps):
    any_srv.platform.add_segment("a")
    rule = any_srv.faults.add("503", methods=("GET",), limit=2)
    client = any_srv.client(_sleep=sleeps, backoff_base=1.0, backoff_max=8.0)
    assert client.segments.get("1").name == "a"
    assert rule.fired == 2
    assert any_srv.log.count("GET") == 3
    assert len(sleeps.delays) == 2
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0
    assert client.stats.retries == 2


def test_get_429_waits_retry_after(srv, sleeps):
    srv.platform.add_segment("a")
    srv.faults.add("429", methods=("GET",), limit=1, retry_after=1.5)
    client = srv.client(_sleep=sleeps)
    client.segments.get("1")
    assert sleeps.delays == [1.5]
    assert client.stats.rate_limited == 1


def test_get_gives_up_after_max_retries(srv, sleeps):
    srv.platform.add_segment("a")
    srv.faults.add("502", methods=("GET",))
    client = srv.client(_sleep=sleeps, max_retries=2)
    with pytest.raises(ServerError) as info:
        client.segments.get("1")
    assert info.value.status_code == 502
    assert srv.log.count("GET") == 3
    assert len(sleeps.delays) == 2


def test_non_idempotent_post_is_not_resent_after_5xx(srv, sleeps):
    srv.faults.add("502", methods=("POST",), limit=1)
    client = srv.client(_sleep=sleeps)
    with pytest.raises(ServerError):
        client.request("POST", "segments", json_body={"name": "x"}, idempotent=False)
    assert srv.log.count("POST") == 1
    assert sleeps.delays == []


def test_non_idempotent_post_is_not_resent_after_lost_answer(srv, sleeps):
    srv.faults.add("applied_then_lost", methods=("POST",), limit=1)
    client = srv.client(_sleep=sleeps)
    with pytest.raises(OutcomeUnknownError):
        client.request("POST", "segments", json_body={"name": "x"}, idempotent=False)
    assert srv.log.count("POST") == 1
    assert len(srv.platform.segments) == 1  # it was applied: exactly one copy


def test_non_idempotent_post_is_resent_after_429(srv, sleeps):
    srv.faults.add("429", methods=("POST",), limit=1, retry_after=0.25)
    client = srv.client(_sleep=sleeps)
    client.request("POST", "segments", json_body={"name": "x"}, idempotent=False)
    assert srv.log.count("POST") == 2
    assert sleeps.delays == [0.25]
    assert len(srv.platform.segments) == 1


# ----------------------------------------------------------------------------- Provider.write


def _reconcile_by_name(adapter, name, calls):
    def reconcile():
        calls.append(name)
        page = adapter.list_segments(SegmentQuery(search=name), None)
        return next((seg for seg in page.items if seg.name == name), None)

    return reconcile


def test_write_outcome_unknown_and_reconcile_finds_it_is_not_resent(srv, sleeps):
    srv.faults.add("applied_then_lost", methods=("POST",), path="^segments$", limit=1)
    client = srv.client(_sleep=sleeps)
    calls: list[str] = []
    found = client.adapter.write(
        "POST",
        "segments",
        json_body={"name": "once"},
        reconcile=_reconcile_by_name(client.adapter, "once", calls),
    )
    assert found.name == "once"
    assert calls == ["once"]
    assert srv.log.count("POST", "^segments$") == 1
    assert len(srv.platform.segments) == 1


def test_write_outcome_unknown_and_reconcile_none_is_resent_once(srv, sleeps):
    srv.faults.add("reset", methods=("POST",), path="^segments$", limit=1)
    client = srv.client(_sleep=sleeps)
    calls: list[str] = []
    body = client.adapter.write(
        "POST",
        "segments",
        json_body={"name": "retry-me"},
        reconcile=_reconcile_by_name(client.adapter, "retry-me", calls),
    )
    assert body["name"] == "retry-me"
    assert calls == ["retry-me"]
    assert srv.log.count("POST", "^segments$") == 2
    assert len(srv.platform.segments) == 1
    assert len(sleeps.delays) == 1


def test_write_without_reconcile_raises_outcome_unknown(srv, sleeps):
    srv.faults.add("reset", methods=("POST",), limit=1)
    client = srv.client(_sleep=sleeps)
    with pytest.raises(OutcomeUnknownError):
        client.adapter.write("POST", "segments", json_body={"name": "x"})
    assert srv.log.count("POST") == 1


def test_write_reconcile_none_stops_after_max_retries(srv, sleeps):
    srv.faults.add("502", methods=("POST",))
    client = srv.client(_sleep=sleeps, max_retries=2)
    calls: list[int] = []

    def reconcile():
        calls.append(1)

    with pytest.raises(ServerError):
        client.adapter.write("POST", "segments", json_body={"name": "x"}, reconcile=reconcile)
    assert srv.log.count("POST") == 3
    assert len(calls) == 3
    assert len(sleeps.delays) == 2


def test_write_reconcile_may_raise_to_stop(srv, sleeps):
    srv.faults.add("502", methods=("POST",))
    client = srv.client(_sleep=sleeps)

    def reconcile():
        raise NotFoundError("gave up", provider="memory")

    with pytest.raises(NotFoundError, match="gave up"):
        client.adapter.write("POST", "segments", json_body={"name": "x"}, reconcile=reconcile)
    assert srv.log.count("POST") == 1


def test_netrc_and_environment_are_read_once_and_cannot_replace_auth(tmp_path, monkeypatch):
    """requests lets a ~/.netrc entry override an explicit Authorization header; the client
    reads proxies once at creation and never consults netrc."""
    from segmentkit.testing import fake

    netrc = tmp_path / ".netrc"
    netrc.write_text("machine memory.fake.test login intruder password stolen\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "memory.fake.test")
    with fake("memory", "responses") as srv:
        sid = srv.platform.seed_segment("netrc", [])
        client = srv.client()
        assert client.adapter.transport.session.trust_env is False
        assert client.segments.get(sid).id == sid
        sent = srv.log.records[-1].headers
        assert "Authorization" not in sent, "netrc must not add or replace auth"
