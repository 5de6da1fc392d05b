"""Session decisions: retry modes, waits (capped, announced, interruptible), pacing on the
safe side of the server's headers, shared budgets, origin checks. No real sleeping except
the bounded interrupt tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

import segmentkit
from segmentkit import ConfigurationError, RateLimitError, ServerError
from segmentkit.coordination import LocalCoordinator
from segmentkit.errors import OutcomeUnknownError
from segmentkit.http import Pacer, RateLimit, Retry, Session, server_wait
from tests.hostile._servers import Request, respond, serve

KEY = "sess10n-key-0123456789abcdef"
WALL = 1_700_000_000.0


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _client(port: int, **opts: Any) -> segmentkit.Client:
    return segmentkit.connect(f"notificator+http://{KEY}@127.0.0.1:{port}/api/", **opts)


def _http(client: segmentkit.Client) -> Session:
    http: Session = client.adapter.http
    return http


def _script(*answers: tuple[str, bytes, dict[str, str]]) -> Any:
    """A handler answering from a script (the last answer repeats)."""
    calls = {"n": 0}

    def handle(req: Request, conn: socket.socket) -> None:
        i = min(calls["n"], len(answers) - 1)
        calls["n"] += 1
        status, body, headers = answers[i]
        respond(conn, body, status=status, headers=headers)

    return handle


OK = ("200 OK", b'{"data": {"id": 1}}', {})
HTML500 = ("500 Internal Server Error", b"<html>oops</html>", {"Connection": "close"})


# ----------------------------------------------------------------------------- server_wait


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"X-RateLimit-Reset": "0"}, 429, 1.0),  # API-SPEC 1.11c: Reset 0 still refuses
        ({"X-RateLimit-Reset": "5"}, 429, 6.0),  # Reset N: up to N+1 s
        ({"X-RateLimit-Reset": str(WALL + 30)}, 429, 30.0),  # epoch (API-SPEC 2.7)
        ({"Retry-After": "0"}, 429, 1.0),  # never retry a 429 at 0 s
        ({"Retry-After": "0.25"}, 429, 0.25),  # an explicit positive wait is the server's word
        ({}, 429, 1.0),
        ({}, 503, None),
        ({"Retry-After": "4", "X-RateLimit-Reset": str(WALL + 50)}, 429, 4.0),
    ],
)
def test_server_wait_is_on_the_safe_side(
    headers: dict[str, str], status: int, expected: float | None
) -> None:
    assert server_wait(headers, status=status, wall=WALL) == expected


def test_whole_second_pacer_keeps_a_second_of_margin() -> None:
    now = [100.0]
    pacer = Pacer(60.0, clock=lambda: now[0], whole_seconds=True)
    pacer.observe(
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1"}, status=200, retry_after=None
    )
    assert pacer.reserve() == 0.0
    wait = pacer.reserve()
    assert wait >= 61.0, "a 60 s window of a whole-second server lasts up to 61 s"


# ----------------------------------------------------------------------------- retry modes


@pytest.mark.timeout(30)
def test_retry_after_lookup_sees_the_exception_and_its_result_is_returned() -> None:
    with serve(_script(HTML500)) as srv, _client(srv.port, _sleep=Sleeps()) as c:
        seen: list[BaseException] = []

        def lookup(exc: BaseException) -> Any:
            seen.append(exc)
            return {"found": True}

        assert _http(c).post("segments", data={"a": "1"}, retry=Retry.after(lookup)) == {
            "found": True
        }
        assert len(seen) == 1
        assert isinstance(seen[0], ServerError)
        assert len(srv.requests) == 1


@pytest.mark.timeout(30)
def test_retry_after_lookup_none_resends_and_raising_stops() -> None:
    with serve(_script(HTML500, OK)) as srv, _client(srv.port, _sleep=Sleeps()) as c:
        assert _http(c).post("segments", retry=Retry.after(lambda exc: None)) == {"data": {"id": 1}}
        assert len(srv.requests) == 2
    with serve(_script(HTML500)) as srv, _client(srv.port, _sleep=Sleeps()) as c:

        def stop(exc: BaseException) -> Any:
            raise OutcomeUnknownError("known bug", provider="x")

        with pytest.raises(OutcomeUnknownError, match="known bug"):
            _http(c).post("segments", retry=Retry.after(stop))
        assert len(srv.requests) == 1


@pytest.mark.timeout(30)
def test_retry_never_sends_once_even_for_a_get() -> None:
    with serve(_script(HTML500, OK)) as srv, _client(srv.port, _sleep=Sleeps()) as c:
        with pytest.raises(ServerError):
            _http(c).get("segments/1", retry=Retry.never)
        assert len(srv.requests) == 1


@pytest.mark.timeout(30)
def test_a_66text_reset_zero_429_is_waited_out_not_retried_at_once() -> None:
    refused = (
        "429 Too Many Requests",
        b'{"errors": [{"title": "limit"}]}',
        {
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Reset": "0",
        },
    )
    sleeps = Sleeps()
    with serve(_script(refused, OK)) as srv, _client(srv.port, _sleep=sleeps) as c:
        assert c.request("GET", "segments/1") == {"data": {"id": 1}}
        assert len(srv.requests) == 2
    assert sleeps.delays, "it waited"
    assert max(sleeps.delays) >= 1.0
    assert c.stats.paced_seconds >= 1.0


# ----------------------------------------------------------------------------- waits


@pytest.mark.timeout(30)
def test_on_wait_announces_long_waits_with_a_reason_and_can_be_removed() -> None:
    with serve(_script(OK)) as srv, _client(srv.port, _sleep=Sleeps()) as c:
        http = _http(c)
        got: list[tuple[float, str]] = []
        remove = http.on_wait(lambda s, r: got.append((s, r)))
        http.wait(0.1, "backoff")
        http.wait(2.0, "backoff")
        http.wait(3.0, "rate limit")
        remove()
        http.wait(4.0, "shared budget")
        assert got == [(2.0, "backoff"), (3.0, "rate limit")]


@pytest.mark.timeout(30)
def test_interrupt_wakes_waits_in_every_thread_and_later_waits_raise() -> None:
    with serve(_script(OK)) as srv, _client(srv.port, max_retry_wait=60) as c:
        http = _http(c)
        outcomes: list[str] = []
        started = threading.Barrier(4)

        def waiter() -> None:
            started.wait(timeout=5)
            try:
                http.wait(30.0, "backoff")
                outcomes.append("slept")
            except KeyboardInterrupt:
                outcomes.append("interrupted")

        threads = [threading.Thread(target=waiter, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        started.wait(timeout=5)
        time.sleep(0.2)
        t0 = time.monotonic()
        http.interrupt()
        for t in threads:
            t.join(timeout=10)
        assert outcomes == ["interrupted"] * 3
        assert time.monotonic() - t0 < 5
        with pytest.raises(KeyboardInterrupt):
            http.wait(5.0, "backoff")  # the main thread, after the interrupt


@pytest.mark.timeout(30)
def test_shared_budget_is_shared_between_clients_and_capped_by_max_retry_wait() -> None:
    coordinator = LocalCoordinator()
    limited = (
        "200 OK",
        b'{"data": {"id": 1}}',
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1000"},
    )
    with serve(_script(limited)) as srv:
        opts: dict[str, Any] = {"coordination": coordinator, "max_retry_wait": 0.5}
        with _client(srv.port, **opts) as a, _client(srv.port, **opts) as b:
            assert a.adapter.rate_limit == RateLimit(60, 60.0, scope="account", whole_seconds=True)
            a.request("GET", "segments/1")  # learns the advertised limit: 2 per ~61 s
            b.request("GET", "segments/1")
            with pytest.raises(RateLimitError) as info:
                a.request("GET", "segments/1")
            assert info.value.retry_after is not None
            assert info.value.retry_after > 0.5
            assert len(srv.requests) == 2


@pytest.mark.timeout(30)
def test_budget_waits_count_as_paced_seconds_and_are_announced() -> None:
    coordinator = LocalCoordinator()
    limited = (
        "200 OK",
        b'{"data": {"id": 1}}',
        {"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "1000"},
    )
    sleeps = Sleeps()
    with (
        serve(_script(limited)) as srv,
        _client(srv.port, coordination=coordinator, _sleep=sleeps) as c,
    ):
        got: list[str] = []
        _http(c).on_wait(lambda s, r: got.append(r))
        c.request("GET", "segments/1")
        c.request("GET", "segments/1")
        assert "shared budget" in got
        assert c.stats.paced_seconds > 50


# ----------------------------------------------------------------------------- origin


def test_url_accepts_paths_and_own_origin_only() -> None:
    with serve(_script(OK)) as srv, _client(srv.port) as c:
        http = _http(c)
        base = f"http://127.0.0.1:{srv.port}/api/"
        assert http.url("segments") == base + "segments"
        assert http.url("/segments") == base + "segments"
        assert (
            http.url(f"HTTP://127.0.0.1:{srv.port}/api/x") == f"HTTP://127.0.0.1:{srv.port}/api/x"
        )
        for bad in (
            f"http://127.0.0.1:{srv.port + 1}/api/x",
            f"https://127.0.0.1:{srv.port}/api/x",
            f"http://u:p@127.0.0.1:{srv.port}/api/x",
            "http://localhost/api/x",
            "segments\\x",
        ):
            with pytest.raises(ConfigurationError):
                http.url(bad)
