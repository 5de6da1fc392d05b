"""Secrets against hostile input, through the public API only (issue 12 §2).

A small loopback server (not our fakes) echoes the key it received in every spelling a real
server might use; nothing we keep or print may contain any of them. Mistyped DSNs and
unusable credentials never reach an error message, a traceback or the wire. Every error class
round-trips through pickle and deepcopy with its fields and without secrets.
"""

from __future__ import annotations

import base64
import copy
import html
import inspect
import json
import pickle
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

import segmentkit
import segmentkit.errors as errors_module
from segmentkit import APIError, ConfigurationError, SegmentkitError

from ._secret_servers import Loopback, Seen, json_answer, serve

pytestmark = pytest.mark.timeout(60)

#: Keys a header can carry but naive masking misses once the server re-encodes them.
KEYS = {
    "quote": 'K3yQuote"d"0123456789',
    "backslash": "K3yBack\\slash\\0123456789",
    "slash": "K3y/Sla/sh+and=eq0123456789",
    "latin1": "K3yClé-ñ-ü-0123456789",
    "html": "K3y<tag>&amp'0123456789",
    "mixed": "K3y\"\\/é<&>'%0123456789",
}


def spellings(key: str, auth_value: str) -> dict[str, str]:
    """Independent list of the ways a server can write ``key`` back (not our redactor's)."""
    return {
        "raw": key,
        "json": json.dumps(key)[1:-1],
        "json-utf8": json.dumps(key, ensure_ascii=False)[1:-1],
        "json-slash": json.dumps(key)[1:-1].replace("/", "\\/"),
        "json-twice": json.dumps(json.dumps(key))[1:-1],
        "json-upper-hex": json.dumps(key)[1:-1].replace("\\u00e9", "\\u00E9"),
        "percent": quote(key, safe=""),
        "percent-plus": quote_plus(key),
        "html": html.escape(key),
        "base64-auth": base64.b64encode(auth_value.encode("latin-1")).decode(),
    }


def _echo_all_forms(header: str, prefix: str = "") -> Any:
    """A handler answering 401 with the received credential echoed in every spelling."""

    def handle(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        value = seen.headers.get(header, "")
        key = value[len(prefix) :] if value.startswith(prefix) else value
        forms = spellings(key, value)
        text_forms = " | ".join(forms.values())
        body = {
            "errors": [{"title": f"Unauthenticated: {text_forms}", "status": 401, **forms}],
            "message": text_forms,
        }
        # Hand-written JSON so the raw (unescaped-UTF-8) and escaped spellings both appear.
        raw = json.dumps(body, ensure_ascii=False)
        return json_answer(401, raw)

    return handle


def _everything_kept(err: BaseException) -> str:
    """All text the library keeps or prints for ``err``, its pickled and copied versions."""
    parts: list[str] = []
    for e in (err, pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):
        parts += [str(e), repr(e), *map(str, e.args), repr(vars(e))]
        if isinstance(e, APIError):
            parts += [e.raw_body or "", *e.messages, repr(e.field_errors)]
    parts.append("".join(traceback.format_exception(err)))
    parts.append(pickle.dumps(err).decode("latin-1"))
    return "\n".join(parts)


@pytest.fixture
def notificator_echo() -> Iterator[Loopback]:
    with serve(_echo_all_forms("Authorization", "Bearer ")) as srv:
        yield srv


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_key_echoed_in_every_spelling_is_masked_everywhere(
    kind: str, notificator_echo: Loopback
) -> None:
    key = KEYS[kind]
    client = segmentkit.connect(
        "notificator", api_key=key, base_url=f"{notificator_echo.base}/api/", max_retries=0
    )
    with client, pytest.raises(SegmentkitError) as info:
        client.segments.get("1")
    assert notificator_echo.seen, "the request reached the echoing server"
    assert notificator_echo.seen[0].headers["Authorization"] == f"Bearer {key}"
    kept = _everything_kept(info.value)
    assert "Unauthenticated" in kept, "the platform's message is kept"
    for name, form in spellings(key, f"Bearer {key}").items():
        assert form not in kept, f"{name} spelling of the {kind} key leaked"


def test_allstech_keys_echoed_in_every_spelling_are_masked() -> None:
    public, secret = KEYS["mixed"], KEYS["latin1"] + "S"

    def handle(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        echoed = {
            f"{h}-{n}": f
            for h in ("PublicKey", "SecretKey")
            for n, f in spellings(seen.headers.get(h, ""), seen.headers.get(h, "")).items()
        }
        # The keys come back as field names too (a validator echoing the header it checked).
        echoed.update({f: [f"bad {f}"] for f in list(echoed.values())[:4]})
        body = {"status": "failed", "message": echoed}
        return json_answer(200, json.dumps(body))

    with serve(handle) as srv:
        client = segmentkit.connect(
            "allstech",
            public_key=public,
            secret_key=secret,
            base_url=f"{srv.base}/api/",
            max_retries=0,
        )
        with client, pytest.raises(SegmentkitError) as info:
            client.segments.get("1")
        assert srv.seen
    kept = _everything_kept(info.value)
    for key in (public, secret):
        for name, form in spellings(key, key).items():
            assert form not in kept, f"{name} spelling leaked"


def test_html_error_page_echoing_the_key_is_masked(notificator_echo: Loopback) -> None:
    key = KEYS["html"]

    def handle(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        value = seen.headers.get("Authorization", "")
        page = f"<html><body><h1>500</h1><p>{html.escape(value)}</p></body></html>"
        return 500, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    with serve(handle) as srv:
        client = segmentkit.connect(
            "notificator", api_key=key, base_url=f"{srv.base}/api/", max_retries=0
        )
        with client, pytest.raises(SegmentkitError) as info:
            client.segments.get("1")
    kept = _everything_kept(info.value)
    assert html.escape(key) not in kept
    assert key not in kept


# ----------------------------------------------------------------------------- mistyped DSNs

SECRET = "Sk9live0123456789abcdefXYZ"

MISTYPED = [
    f"notificator:/{SECRET}@notificatorsms.com",
    f"notificator//{SECRET}@notificatorsms.com",
    f"notificator:{SECRET}@notificatorsms.com",
    f"notificator:{SECRET}",
    f"notificator/{SECRET}@h.example/api",
    f"notificatr://{SECRET}@notificatorsms.com",
    f"{SECRET}@notificatorsms.com",
    f"notificator://{SECRET}@notificatorsms.com:99999",
    f"notificator://{SECRET}@notificatorsms.com:port",
    f"notificator://{SECRET}",
    f"notificator+ftp://{SECRET}@notificatorsms.com",
    f"notifi{SECRET}cator://x@h.example",
    f"notificator://{SECRET}@bad host.example",
    f"notificator://{SECRET}@h.example\\evil",
    f"notificator://{SECRET}@h.example/#frag",
    f" notificator:/ {SECRET}@h.example",
    SECRET,
    SECRET.lower(),
    f"notificator://user:{SECRET}@h.example?api_key={SECRET}",
]


@pytest.mark.parametrize("target", MISTYPED)
def test_mistyped_dsn_never_echoes_the_credential(target: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        segmentkit.connect(target)
    trace = "".join(traceback.format_exception(info.value))
    text = "\n".join([str(info.value), repr(info.value), *map(str, info.value.args), trace])
    for form in (SECRET, SECRET.lower(), SECRET[:12], SECRET[-12:]):
        assert form not in text


@pytest.mark.parametrize("target", MISTYPED)
def test_mistyped_dsn_from_the_environment_never_echoes_the_credential(target: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        segmentkit.connect(env={"SEGMENTKIT_DSN": target})
    assert SECRET.lower() not in str(info.value).lower()


@pytest.mark.parametrize("target", MISTYPED)
def test_describe_target_carries_no_credential(target: str) -> None:
    from segmentkit.config import describe_target

    shown = describe_target(target)
    assert SECRET.lower() not in shown.lower()
    assert SECRET[:8].lower() not in shown.lower()


def test_describe_target_keeps_what_helps_find_the_typo() -> None:
    from segmentkit.config import describe_target

    assert describe_target(f"notificator:/{SECRET}@notificatorsms.com") == (
        "notificator:/***@notificatorsms.com"
    )
    assert describe_target(f"notificator+http://{SECRET}@127.0.0.1:8080/api/") == (
        "notificator+http://***@127.0.0.1:8080/api/"
    )
    assert describe_target(f"allstech://a:{SECRET}@h.example?api_key=x&region=eu") == (
        "allstech://***:***@h.example?api_key=***&region=eu"
    )
    assert describe_target("notificator") == "notificator"


# ----------------------------------------------------------------------------- bad credentials

BAD_CREDENTIALS = [
    f"{SECRET}\n",
    f"{SECRET}\r\nX-Evil: 1",
    f" {SECRET}",
    f"{SECRET}\t",
    f"{SECRET}\x00",
    f"{SECRET}\x7f",
    f"{SECRET}\u2028",
    f"{SECRET}\u200b",
    f"{SECRET}€",
    f"{SECRET}\U0001f600",
]


@pytest.mark.parametrize("value", BAD_CREDENTIALS, ids=repr)
@pytest.mark.parametrize("source", ["keyword", "env", "dsn"])
def test_credential_a_header_cannot_carry_is_refused_naming_the_field(
    value: str, source: str
) -> None:
    def handle(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return json_answer(200, '{"data": []}')

    with serve(handle) as srv:
        base = f"{srv.base}/api/"
        with pytest.raises(ConfigurationError) as info:
            if source == "keyword":
                segmentkit.connect("notificator", api_key=value, base_url=base)
            elif source == "env":
                env = {"SEGMENTKIT_NOTIFICATOR_API_KEY": value}
                segmentkit.connect("notificator", base_url=base, env=env)
            else:
                segmentkit.connect(
                    f"notificator+http://{quote(value, safe='')}@127.0.0.1:{srv.port}/api/"
                )
        assert srv.seen == [], "nothing reached the wire"
    text = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert "api_key" in str(info.value)
    assert SECRET not in text
    assert "X-Evil" not in text


def test_allstech_names_the_bad_field_of_two() -> None:
    with pytest.raises(ConfigurationError, match="secret_key") as info:
        segmentkit.connect("allstech", public_key="PublicKey0123456789", secret_key=f"{SECRET}\n")
    assert SECRET not in str(info.value)
    assert "public_key" not in str(info.value)


# ----------------------------------------------------------------------------- pickling errors


def _error_classes() -> list[type[SegmentkitError]]:
    out = []
    for name in errors_module.__all__:
        obj = getattr(errors_module, name)
        if inspect.isclass(obj) and issubclass(obj, SegmentkitError):
            out.append(obj)
    return out


def _instance(cls: type[SegmentkitError], secret: str) -> SegmentkitError:
    if issubclass(cls, APIError):
        return cls(
            f"refused {secret}",
            provider="notificator",
            status_code=429 if cls is errors_module.RateLimitError else 400,
            messages=[f"message {secret}"],
            field_errors={"api_key": [f"bad {secret}"], "name": ["too long"]},
            raw_body=json.dumps({"echo": secret}),
            retry_after=12.5,
        )
    if issubclass(cls, errors_module.TransportError):
        return cls(
            f"failed {secret}",
            provider="allstech",
            method="POST",
            url="https://h.example/api/x",
            request_sent=False,
        )
    if cls is errors_module.UnsupportedOperationError:
        return cls("notificator", "delete_segment", "Delete it in the web app.")
    if cls is errors_module.InvalidRecipientError:
        return cls("not a phone number", field="phone", value="+39abc")
    if cls is errors_module.LockTimeoutError:
        return cls("segment lock not taken in 3 s", scope="ab12cd", timeout=3.0)
    return cls(f"cannot set up: {secret}")


def test_every_error_class_is_covered() -> None:
    names = {c.__name__ for c in _error_classes()}
    assert {
        "UnsupportedOperationError",
        "InvalidRecipientError",
        "LockTimeoutError",
        "PluginLoadError",
        "TransportError",
        "RateLimitError",
        "ConfigurationError",
    } <= names
    assert len(names) == len([n for n in errors_module.__all__ if n[0].isupper()]) - 1


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_every_error_class_round_trips_with_its_fields_and_no_secret(
    cls: type[SegmentkitError], how: str
) -> None:
    secret = "PickleSecret0123456789"
    segmentkit.redact.Redactor([secret])  # the process now knows it, as a client would
    original = _instance(cls, secret)
    if how == "pickle":
        data = pickle.dumps(original)
        assert secret.encode() not in data
        copied = pickle.loads(data)
    else:
        copied = copy.deepcopy(original)
    assert type(copied) is cls
    assert secret not in str(original) + repr(original), "masked from the start"
    assert str(copied) == str(original)
    assert repr(copied) == repr(original)
    assert secret not in str(copied) + repr(copied) + repr(vars(copied))
    fields = dict(vars(original))
    assert vars(copied) == fields
    if isinstance(original, APIError):
        assert copied.retry_after == 12.5
        assert copied.field_errors["name"] == ["too long"]
        assert copied.status_code == original.status_code
    if isinstance(original, errors_module.TransportError):
        assert copied.request_sent is False
        assert copied.method == "POST"
    if cls is errors_module.UnsupportedOperationError:
        assert (copied.provider, copied.operation, copied.hint) == (
            "notificator",
            "delete_segment",
            "Delete it in the web app.",
        )
    if cls is errors_module.LockTimeoutError:
        assert (copied.scope, copied.timeout) == ("ab12cd", 3.0)
    if cls is errors_module.InvalidRecipientError:
        assert (copied.reason, copied.field, copied.value) == (
            "not a phone number",
            "phone",
            "+39abc",
        )
        assert isinstance(copied, ValueError)


def test_raised_error_pickles_without_its_traceback_or_cause(
    notificator_echo: Loopback,
) -> None:
    key = KEYS["mixed"]
    client = segmentkit.connect(
        "notificator", api_key=key, base_url=f"{notificator_echo.base}/api/", max_retries=0
    )
    with client, pytest.raises(SegmentkitError) as info:
        client.segments.get("1")
    copied = pickle.loads(pickle.dumps(info.value))
    assert type(copied) is type(info.value)
    assert str(copied) == str(info.value)
