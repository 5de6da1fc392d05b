"""Trust §3: keys go only to the configured origin (public API against loopback servers)."""

from __future__ import annotations

import pytest

import segmentkit
from segmentkit import ConfigurationError

from ._servers import json_answer, serve

KEY = "k3y-0f-the-acc0unt-0123456789abcdef"


def _connect(base: str, **opts: object) -> segmentkit.Client:
    host = base.removeprefix("http://")
    return segmentkit.connect(f"notificator+http://{KEY}@{host}/api/", max_retries=0, **opts)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "target",
    [
        "{other}/api/segments",
        "//127.0.0.1:{other_port}/api/segments",
        "http://{KEY}@127.0.0.1:{port}/api/segments",
        "https://127.0.0.1:{port}/api/segments",
        "http://10.0.0.1/api/segments",
        "http://127.0.0.1:{port}\\@{other_host}/api/",
    ],
)
def test_absolute_url_of_another_origin_is_refused_before_sending(target: str) -> None:
    with serve(json_answer()) as mine, serve(json_answer()) as other:
        url = target.format(
            other=other.base,
            other_port=other.port,
            other_host=f"127.0.0.1:{other.port}",
            port=mine.port,
            KEY=KEY,
        )
        with _connect(mine.base) as client, pytest.raises(ConfigurationError) as info:
            client.request("GET", url)
        assert other.requests == [], "the other origin received nothing"
        assert mine.requests == []
        assert KEY not in str(info.value)


@pytest.mark.timeout(30)
def test_absolute_url_of_the_own_origin_and_paths_are_sent() -> None:
    with serve(json_answer(b'{"data": {"id": 1}}')) as mine, _connect(mine.base) as client:
        assert client.request("GET", f"{mine.base}/api/segments/1") == {"data": {"id": 1}}
        assert client.request("GET", "segments/1") == {"data": {"id": 1}}
        assert [r.target for r in mine.requests] == ["/api/segments/1", "/api/segments/1"]
        assert mine.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("var", ["HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"])
def test_plain_http_client_never_sends_credentials_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    with serve(json_answer(b'{"data": {"id": 1}}')) as mine, serve(json_answer()) as proxy:
        monkeypatch.setenv(var, proxy.base)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with _connect(mine.base) as client:
            client.request("GET", "segments/1")
        assert proxy.requests == [], "the proxy saw nothing"
        assert proxy.connections == 0
        assert len(mine.requests) == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_missing_ca_bundle_from_the_environment_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, var: str
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(var, "/nonexistent/segmentkit-test/ca.pem")
    with pytest.raises(ConfigurationError, match=var):
        segmentkit.connect(f"notificator://{KEY}@notificatorsms.example/api/")
