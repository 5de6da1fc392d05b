"""Base URLs and DSN hosts against hostile input, through ``segmentkit.connect`` (issue 12 §3).

The URL is checked exactly as the HTTP stack will use it: a URL that one parser reads as
loopback and ``requests``/urllib3 as another host (``http://evil.example\\@127.0.0.1/``) is
refused, as is any userinfo, backslash, whitespace, control character, query or fragment.
Loopback means 127.0.0.0/8, ``::1`` and ``localhost`` only. A small loopback server counts
requests, so every refusal is shown to happen before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import segmentkit
from segmentkit import ConfigurationError

from ._secret_servers import Loopback, Seen, json_answer, serve

pytestmark = pytest.mark.timeout(60)

KEY = "ConfigKey0123456789abcdef"


def _ok(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    return json_answer(200, '{"data": [], "meta": {"pagination": {"total_pages": 1}}}')


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with serve(_ok) as srv:
        yield srv


def hostile_urls(port: int) -> list[str]:
    return [
        f"http://evil.example\\@127.0.0.1:{port}/api/",
        f"http://evil.example%5C@127.0.0.1:{port}/api/",
        f"http://user:pass@127.0.0.1:{port}/api/",
        f"http://{KEY}@127.0.0.1:{port}/api/",
        f"http://127.0.0.1:{port}\\@evil.example/api/",
        f"http://127.0.0.1:{port}/api/#@evil.example",
        f"http://127.0.0.1:{port}/api/?next=x",
        f"http://127.0.0.1 :{port}/api/",
        f"http://127.0.0.1:{port}/a pi/",
        f"http://127.0.0.1:{port}/api/\r\nX-Evil: 1",
        f"http://127.0.0.1:{port}/api/\t",
        f"http://127.0.0.1\x00.evil.example:{port}/api/",
        f"http://127。0。0。1:{port}/api/",
        f"http://127.0.0.1:{port}:{port}/api/",
        "http://127.0.0.1:99999/api/",
        "http://127.0.0.1:0/api/",
        "http://127.0.0.1:-1/api/",
        "http:///api/",
        "http:/127.0.0.1/api/",
        "ftp://127.0.0.1/api/",
        "file:///etc/passwd",
        "//127.0.0.1/api/",
        "http://[::1/api/",
    ]


REMOTE_PLAIN_HTTP = [
    "http://10.0.0.1/api/",
    "http://127.0.0.1.evil.example/api/",
    "http://localhost.evil.example/api/",
    "http://localhost.localdomain/api/",
    "http://[::ffff:10.0.0.1]/api/",
    "http://0.0.0.0/api/",
    "http://2130706433/api/",
    "http://0x7f.0.0.1/api/",
    "http://127.1/api/",
]


def test_every_hostile_base_url_is_refused_before_any_request(loopback: Loopback) -> None:
    for url in hostile_urls(loopback.port):
        with pytest.raises(ConfigurationError) as info:
            segmentkit.connect("notificator", api_key=KEY, base_url=url)
        assert KEY not in str(info.value), url
        assert "user:pass" not in str(info.value), url
    assert loopback.seen == [], "no hostile URL reached the wire"


@pytest.mark.parametrize("url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_anything_but_loopback_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"plain HTTP|invalid host|ambiguous"):
        segmentkit.connect("notificator", api_key=KEY, base_url=url)


@pytest.mark.parametrize("url", REMOTE_PLAIN_HTTP)
def test_insecure_opt_in_allows_clean_plain_http_urls(url: str) -> None:
    """allow_insecure=True lifts the loopback rule only (the hostile list above stays refused
    with it: see the next test)."""
    client = segmentkit.connect("notificator", api_key=KEY, base_url=url, allow_insecure=True)
    client.close()


def test_hostile_base_urls_stay_refused_with_allow_insecure(loopback: Loopback) -> None:
    for url in hostile_urls(loopback.port):
        with pytest.raises(ConfigurationError):
            segmentkit.connect("notificator", api_key=KEY, base_url=url, allow_insecure=True)
    assert loopback.seen == []


def test_backslash_userinfo_url_is_refused_from_the_environment(loopback: Loopback) -> None:
    env = {
        "SEGMENTKIT_NOTIFICATOR_API_KEY": KEY,
        "SEGMENTKIT_NOTIFICATOR_BASE_URL": f"http://evil.example\\@127.0.0.1:{loopback.port}/",
    }
    with pytest.raises(ConfigurationError, match="SEGMENTKIT_NOTIFICATOR_BASE_URL"):
        segmentkit.connect("notificator", env=env)
    assert loopback.seen == []


@pytest.mark.parametrize(
    "host",
    [
        "evil.example\\",
        "127.0.0.1\\",
        "127.0.0.1#",
        "127.0.0.1 ",
        "127.0.0.1\t",
        "bad_host",
        "-bad.example",
        "127.0.0.1:0",
        "127.0.0.1:65536",
    ],
)
def test_hostile_dsn_host_is_refused_before_any_request(host: str, loopback: Loopback) -> None:
    with pytest.raises(ConfigurationError) as info:
        segmentkit.connect(f"notificator+http://{KEY}@{host}/api/")
    assert KEY not in str(info.value)
    assert loopback.seen == []


def test_dsn_with_backslash_before_the_last_at_sends_nowhere_else(loopback: Loopback) -> None:
    """Everything before the last ``@`` is credentials: the host is what follows it, and the
    URL we build from it has no userinfo, so requests resolves the same host we checked."""
    client = segmentkit.connect(f"notificator+http://{KEY}@127.0.0.1:{loopback.port}/api/")
    with client:
        assert client.base_url == f"http://127.0.0.1:{loopback.port}/api/"
        list(client.segments.list())
    assert len(loopback.seen) == 1
    assert loopback.seen[0].headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/api/",
        "http://127.5.6.7:{port}/api/",
        "http://localhost:{port}/api/",
        "http://LOCALHOST:{port}/api",
    ],
)
def test_clean_loopback_urls_still_work(url: str, loopback: Loopback) -> None:
    base = url.format(port=loopback.port)
    if "127.5.6.7" in base:
        pytest.importorskip("socket").gethostbyname("127.5.6.7")
    client = segmentkit.connect("notificator", api_key=KEY, base_url=base)
    with client:
        assert client.base_url.endswith("/api/")
        if "127.5.6.7" not in base:
            list(client.segments.list())
    assert all(s.headers["Authorization"] == f"Bearer {KEY}" for s in loopback.seen)


def test_ipv6_loopback_is_loopback() -> None:
    client = segmentkit.connect("notificator", api_key=KEY, base_url="http://[::1]:9/api/")
    client.close()


def test_error_for_a_userinfo_url_does_not_echo_it() -> None:
    url = f"https://admin:{KEY}@notificatorsms.com/api/"
    with pytest.raises(ConfigurationError, match="userinfo") as info:
        segmentkit.connect("notificator", api_key="OtherKey0123456789", base_url=url)
    assert KEY not in repr(info.value)
    assert "admin" not in str(info.value)
