"""DSN parsing and connect()'s lookup order: keywords > DSN > environment > adapter default."""

from __future__ import annotations

import pytest

from segmentkit import DSN, ConfigurationError, connect, parse_dsn
from segmentkit.config import check_credential, check_url, describe_target, is_loopback

SECRET = "s3cr3tKEYvalue"
#: A key for tests that do not care about it. Realistic on purpose: every key a client was
#: built with is masked process-wide (errors, logs), so "kkkkkkkk" would mask ordinary text
#: in later tests.
TOY_KEY = "toyKey-7f3a9c21"
DEFAULT_URL = "https://memory.invalid/v1/"

# ----------------------------------------------------------------------------- parse_dsn


def test_parse_dsn_reads_every_part():
    dsn = parse_dsn(f"memory://{SECRET}@api.example.com:8443/v2/base?region=eu&flag=")
    assert dsn == DSN(
        provider="memory",
        scheme="https",
        credentials=(SECRET,),
        host="api.example.com",
        port=8443,
        path="/v2/base",
        query={"region": "eu", "flag": ""},
    )


def test_parse_dsn_http_suffix_selects_plain_http():
    assert parse_dsn("memory+http://k@localhost").scheme == "http"
    assert parse_dsn("memory+https://k@localhost").scheme == "https"
    assert parse_dsn("memory+https://k@localhost").provider == "memory"


def test_parse_dsn_provider_is_lower_cased():
    assert parse_dsn("MEMORY://k@h.example").provider == "memory"


def test_parse_dsn_credentials_are_colon_split_and_percent_decoded():
    dsn = parse_dsn("memory://pub%3Alic:se%40cr%2Fet:third@h.example")
    assert dsn.credentials == ("pub:lic", "se@cr/et", "third")


def test_parse_dsn_unencoded_at_in_credentials_splits_on_last_at():
    assert parse_dsn("memory://a@b@h.example").credentials == ("a@b",)


def test_parse_dsn_without_credentials_has_none():
    dsn = parse_dsn("memory://h.example")
    assert dsn.credentials == ()
    assert dsn.host == "h.example"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("memory+http://k@[::1]:8080/v1/", "::1", 8080),
        ("memory://k@[2001:db8::7]/v1/", "2001:db8::7", None),
    ],
)
def test_parse_dsn_ipv6_host(text, host, port):
    dsn = parse_dsn(text)
    assert (dsn.host, dsn.port) == (host, port)
    assert f"[{host}]" in dsn.base_url(DEFAULT_URL)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"memory:{SECRET}@h.example", "://"),
        (f"memory/{SECRET}@h.example", "://"),
        (f"://{SECRET}@h.example", "://"),
        (f"memory+ftp://{SECRET}@h.example", "+ftp"),
        (f"memory://{SECRET}@", "no host"),
        (f"memory://{SECRET}@/v1/", "no host"),
        (f"memory://{SECRET}@h.example:notaport", "invalid host or port"),
        (f"memory://{SECRET}@h.example:99999", "invalid host or port"),
    ],
)
def test_parse_dsn_error_explains_and_never_echoes_credentials(text, words):
    with pytest.raises(ConfigurationError) as info:
        parse_dsn(text)
    assert words in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_dsn_repr_and_str_mask_credentials():
    dsn = parse_dsn(f"memory://{SECRET}:other{SECRET}@h.example:8443/v1/")
    assert SECRET not in repr(dsn)
    assert SECRET not in str(dsn)
    assert str(dsn) == "memory://***:***@h.example:8443/v1/"


def test_dsn_str_keeps_http_suffix_and_omits_missing_credentials():
    assert str(parse_dsn("memory+http://localhost:9")) == "memory+http://localhost:9"


def test_dsn_str_of_ipv6_host_keeps_brackets_and_round_trips():
    dsn = parse_dsn(f"memory+http://{SECRET}@[::1]:8080/v1/")
    assert str(dsn) == "memory+http://***@[::1]:8080/v1/"
    again = parse_dsn(str(dsn))
    assert (again.host, again.port) == ("::1", 8080)


def test_dsn_base_url_defaults_to_adapter_path():
    assert parse_dsn("memory://k@h.example").base_url(DEFAULT_URL) == "https://h.example/v1/"
    assert parse_dsn("memory://k@h.example/api").base_url(DEFAULT_URL) == "https://h.example/api/"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("127.0.0.1.example.com", False),
        ("localhost.localdomain", False),
        ("localhost.", False),
        ("0.0.0.0", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# ----------------------------------------------------------------------------- connect lookup order

ENV_KEY = "SEGMENTKIT_MEMORY_API_KEY"
ENV_URL = "SEGMENTKIT_MEMORY_BASE_URL"
FULL_ENV = {ENV_KEY: "env-key-1234", ENV_URL: "https://env.example/e/"}


def _key(client):
    return client.adapter.secret("api_key")


def test_connect_keyword_beats_dsn_and_env(registry):
    with connect(
        "memory://dsn-key-1234@dsn.example",
        registry=registry,
        env=FULL_ENV,
        api_key="kw-key-1234",
        base_url="https://kw.example/k",
    ) as c:
        assert _key(c) == "kw-key-1234"
        assert c.base_url == "https://kw.example/k/"


def test_connect_dsn_beats_env(registry):
    with connect("memory://dsn-key-1234@dsn.example/d/", registry=registry, env=FULL_ENV) as c:
        assert _key(c) == "dsn-key-1234"
        assert c.base_url == "https://dsn.example/d/"


def test_connect_env_beats_default(registry):
    with connect("memory", registry=registry, env=FULL_ENV) as c:
        assert _key(c) == "env-key-1234"
        assert c.base_url == "https://env.example/e/"


def test_connect_default_base_url_when_nothing_else(registry):
    with connect("memory", registry=registry, env={}, api_key="kw-key-1234") as c:
        assert c.base_url == DEFAULT_URL


def test_connect_dsn_without_credentials_falls_back_to_env(registry):
    with connect("memory://dsn.example", registry=registry, env={ENV_KEY: "env-key-1234"}) as c:
        assert _key(c) == "env-key-1234"
        assert c.base_url == "https://dsn.example/v1/"


def test_connect_dsn_host_without_path_gets_adapter_default_path(registry):
    with connect("memory://k@api.example.com:8443", registry=registry, env={}) as c:
        assert c.base_url == "https://api.example.com:8443/v1/"


def test_connect_reads_dsn_from_segmentkit_dsn_env(registry):
    env = {"SEGMENTKIT_DSN": "memory://dsn-key-1234@dsn.example"}
    with connect(registry=registry, env=env) as c:
        assert c.provider == "memory"
        assert _key(c) == "dsn-key-1234"


def test_connect_without_target_or_env_dsn_is_refused(registry):
    with pytest.raises(ConfigurationError, match="SEGMENTKIT_DSN"):
        connect(registry=registry, env={})


def test_connect_missing_credential_names_env_variable(registry):
    with pytest.raises(ConfigurationError) as info:
        connect("memory", registry=registry, env={})
    msg = str(info.value)
    assert ENV_KEY in msg
    assert "api_key=" in msg
    assert "memory://<api_key>@<host>" in msg


def test_connect_empty_keyword_credential_counts_as_missing(registry):
    with pytest.raises(ConfigurationError, match=ENV_KEY):
        connect("memory", registry=registry, env={}, api_key="")


def test_connect_empty_env_credential_counts_as_missing(registry):
    with pytest.raises(ConfigurationError, match=ENV_KEY):
        connect("memory", registry=registry, env={ENV_KEY: ""})


def test_connect_too_many_dsn_credential_parts_is_refused(registry):
    with pytest.raises(ConfigurationError, match="2 credential parts") as info:
        connect(f"memory://{SECRET}:{SECRET}@h.example", registry=registry, env={})
    assert SECRET not in str(info.value)


def test_connect_unknown_option_is_refused_listing_valid_ones(registry):
    with pytest.raises(ConfigurationError) as info:
        connect("memory", registry=registry, env={}, api_key=TOY_KEY, retires=3)
    msg = str(info.value)
    assert "retires" in msg
    for valid in ("api_key", "base_url", "max_retries", "read_timeout", "concurrency"):
        assert valid in msg


def test_connect_unknown_dsn_query_setting_is_refused(registry):
    with pytest.raises(ConfigurationError, match="colour"):
        connect("memory://k@h.example?colour=red", registry=registry, env={})


def test_connect_invalid_option_value_is_a_configuration_error(registry):
    with pytest.raises(ConfigurationError, match="max_retries"):
        connect("memory", registry=registry, env={}, api_key=TOY_KEY, max_retries=-1)


def test_connect_unknown_provider_lists_installed_ones(registry):
    with pytest.raises(ConfigurationError, match=r"unknown provider 'nope'.*memory"):
        connect("nope://k@h.example", registry=registry, env={})


@pytest.mark.parametrize(
    "target",
    ["memory+http://k@example.com", "memory+http://k@10.0.0.1:8080"],
)
def test_connect_plain_http_to_remote_host_is_refused(registry, target):
    with pytest.raises(ConfigurationError, match="allow_insecure"):
        connect(target, registry=registry, env={})


def test_connect_plain_http_base_url_keyword_to_remote_host_is_refused(registry):
    with pytest.raises(ConfigurationError, match="allow_insecure"):
        connect(
            "memory", registry=registry, env={}, api_key=TOY_KEY, base_url="http://example.com/"
        )


def test_connect_plain_http_to_remote_host_allowed_when_insecure_allowed(registry):
    with connect(
        "memory+http://k@example.com", registry=registry, env={}, allow_insecure=True
    ) as c:
        assert c.base_url == "http://example.com/v1/"


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("memory+http://k@127.0.0.1:8000", "http://127.0.0.1:8000/v1/"),
        ("memory+http://k@localhost:8000/x", "http://localhost:8000/x/"),
        ("memory+http://k@[::1]:8000", "http://[::1]:8000/v1/"),
    ],
)
def test_connect_plain_http_to_loopback_is_allowed(registry, target, url):
    with connect(target, registry=registry, env={}) as c:
        assert c.base_url == url


def test_connect_non_http_base_url_is_refused(registry):
    with pytest.raises(ConfigurationError, match="base URL"):
        connect("memory", registry=registry, env={}, api_key=TOY_KEY, base_url="ftp://h/")


def test_connect_verify_false_is_refused(registry):
    with pytest.raises(ConfigurationError, match="TLS verification"):
        connect("memory", registry=registry, env={}, api_key=TOY_KEY, verify=False)


def test_connect_verify_accepts_ca_bundle_path(registry, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    with connect("memory", registry=registry, env={}, api_key=TOY_KEY, verify=str(bundle)) as c:
        assert c.adapter.options.verify == str(bundle)


@pytest.mark.parametrize("value", ["false", "0", "/no/such/ca.pem"])
def test_connect_verify_string_that_disables_or_is_missing_is_refused(registry, value):
    with pytest.raises(ConfigurationError, match="verify"):
        connect("memory", registry=registry, env={}, api_key=TOY_KEY, verify=value)


def test_connect_options_reach_the_transport(registry):
    with connect(
        "memory", registry=registry, env={}, api_key=TOY_KEY, max_retries=7, read_timeout=1.5
    ) as c:
        assert c.adapter.transport.retry_policy.max_retries == 7
        assert c.adapter.transport.timeout == (5.0, 1.5)


# ----------------------------------------------------------------------------- hardening


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("memory", "memory"),
        (" Memory ", "memory"),
        (f"memory://{SECRET}@h.example/v1/", "memory://***@h.example/v1/"),
        (f"memory://a:{SECRET}@h.example?token={SECRET}&region=eu", None),
        (f"memory:/{SECRET}@h.example", "memory:/***@h.example"),
        (f"memory:{SECRET}", "memory:***"),
        (SECRET, "***"),
        (f"{SECRET}@h.example", "***@h.example"),
    ],
)
def test_describe_target_never_shows_a_credential(target, shown):
    text = describe_target(target)
    assert SECRET.lower() not in text.lower()
    if shown is not None:
        assert text == shown


@pytest.mark.parametrize(
    "value",
    ["Zq9v\n", " Zq9v", "Zq9v\r\nX-Evil: 1", "Zq\x009v", "Zq\u200b9v", "Zq\u20ac9v"],
)
def test_check_credential_names_the_field_not_the_value(value):
    with pytest.raises(ConfigurationError, match="'api_key'") as info:
        check_credential("memory", "api_key", value)
    assert "Zq" not in str(info.value)


@pytest.mark.parametrize("value", ["plainKEY123", "clé-latin1", 'with"quote\\and/slash'])
def test_check_credential_accepts_what_a_header_can_carry(value):
    check_credential("memory", "api_key", value)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example\\@127.0.0.1/api/",
        "http://u@127.0.0.1/api/",
        "http://127.0.0.1/api/#x",
        "http://127.0.0.1/api/?x=1",
        "http://127.0.0.1/ api/",
        "https://h.example:0/",
    ],
)
def test_check_url_refuses_ambiguous_urls(url):
    with pytest.raises(ConfigurationError, match="base URL"):
        check_url("memory", url, source="test", allow_insecure=True)


def test_check_url_adds_the_final_slash():
    assert check_url("memory", "http://127.0.0.1:8/a", source="t", allow_insecure=False) == (
        "http://127.0.0.1:8/a/"
    )
