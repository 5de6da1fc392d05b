"""The fault injector itself: every kind observably happens, at exactly the rate its seed
dictates, in both transports. Requests go through raw ``requests`` so nothing retries."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests

import segmentkit
from segmentkit.testing import FAULT_KINDS, Fault, FaultInjector, fake

N = 40
RATE = 0.3
SEED = 11
REGISTRY_ENV = {"SEGMENTKIT_PLUGINS": "memory"}


def expected_hits(seed: int = SEED, n: int = N, rate: float = RATE) -> int:
    rng = random.Random(seed)
    return sum(rng.random() < rate for _ in range(n))


def classify(send) -> str:
    """What a raw client saw: 'ok' or the fault kind it looks like."""
    started = time.monotonic()
    try:
        resp = send()
    except requests.exceptions.ReadTimeout:
        return "stall"
    except requests.exceptions.ChunkedEncodingError:
        return "truncated"
    except requests.exceptions.ConnectionError as exc:
        # A cut connection; in socket mode a short body also surfaces here.
        return "truncated" if "IncompleteRead" in repr(exc) else "cut"
    elapsed = time.monotonic() - started
    if resp.status_code == 429:
        return "429" if resp.headers.get("Retry-After") is not None else "429-no-header"
    if resp.status_code == 500:
        return "html500" if "<html" in resp.text.lower() else "500-not-html"
    if resp.status_code in (502, 503, 504):
        return str(resp.status_code)
    try:
        json.loads(resp.content)
    except ValueError:
        return "malformed_json"
    return "latency" if elapsed >= 0.25 else "ok"


def _registry():
    import segmentkit

    return segmentkit.create_registry(env=REGISTRY_ENV)


@pytest.mark.parametrize("mode", ["socket", "responses"])
@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_fault_kind_fires_at_seeded_rate_and_is_observable(mode, kind):
    with fake("memory", mode, registry=_registry(), seed=SEED) as srv:
        sid = srv.platform.seed_segment("faults", [])
        key = srv.platform.api_key
        write = kind == "applied_then_lost"
        # latency (0.3 s) stays under the read timeout; a stall (0.4 s) outlasts it.
        read_timeout = 0.15 if kind == "stall" else 2.0
        rule = srv.faults.add(
            kind,
            RATE,
            methods=("POST",) if write else ("GET",),
            seconds=0.4 if kind == "stall" else 0.3,
            retry_after=1,
        )
        session = requests.Session()
        url = f"{srv.base_url}segments/{sid}"
        seen = []
        for i in range(N):
            if write:
                body = {"members": [{"email": f"m{i}@example.com"}]}
                send = lambda body=body: session.post(  # noqa: E731
                    f"{url}/members",
                    json=body,
                    headers={"X-Api-Key": key},
                    timeout=(2, read_timeout),
                )
            else:
                send = lambda: session.get(  # noqa: E731
                    url, headers={"X-Api-Key": key}, timeout=(2, read_timeout)
                )
            seen.append(classify(send))
        hits = expected_hits()
        assert rule.fired == hits, "the seed decides exactly which requests fail"
        observed = {
            "reset": "cut",
            "applied_then_lost": "cut",
        }.get(kind, kind)
        assert seen.count(observed) == hits, seen
        assert set(seen) <= {observed, "ok"}, seen
        if write:
            # Applied, then lost: every write landed although some answers never came back.
            assert len(srv.platform.member_emails(sid)) == N
        deadline = time.monotonic() + 3  # stalled handlers log when their sleep ends
        while len(srv.log) < N and time.monotonic() < deadline:
            time.sleep(0.02)
        faulted = [r for r in srv.log if r.fault == kind]
        assert len(faulted) == hits


def test_fault_limit_caps_how_often_a_rule_fires():
    inj = FaultInjector(seed=1)
    rule = inj.add("503", 1.0, limit=2)
    fired = [inj.decide("GET", "x")[1] is not None for _ in range(5)]
    assert fired == [True, True, False, False, False]
    assert rule.fired == 2


def test_fault_rules_filter_by_method_and_path():
    inj = FaultInjector(seed=1)
    inj.add("503", 1.0, methods=("POST",), path=r"^segments/\d+/members")
    assert inj.decide("GET", "segments/1/members")[1] is None
    assert inj.decide("POST", "segments/1")[1] is None
    assert inj.decide("POST", "segments/1/members")[1] is not None


def test_fault_same_seed_gives_same_sequence():
    def run(seed):
        inj = FaultInjector(seed=seed)
        inj.add("429", 0.5)
        return [inj.decide("GET", "x")[1] is not None for _ in range(50)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_fault_unknown_kind_and_bad_rate_are_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="meteor")
    with pytest.raises(ValueError, match="rate"):
        Fault(kind="503", rate=1.5)


@pytest.mark.parametrize("mode", ["socket", "responses"])
def test_request_log_masks_secrets_and_records_status(mode):
    with fake("memory", mode, registry=_registry()) as srv:
        client = srv.client()
        list(client.segments.list())
        with pytest.raises(segmentkit.AuthenticationError):
            srv.client("f" * 32).segments.get("1")
        text = srv.log.text()
        assert srv.platform.api_key not in text
        assert "f" * 32 not in text
        assert [r.status for r in srv.log] == [200, 401]
        assert srv.log.count("GET", r"^segments") == 2


def test_socket_server_binds_loopback_only_and_stops():
    with fake("memory", "socket", registry=_registry()) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        url = srv.base_url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=1)
