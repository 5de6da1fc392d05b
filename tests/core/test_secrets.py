"""No credential ever appears in anything that prints: reprs, errors, logs, events, the fake's
request log."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from segmentkit import APIError, AuthenticationError, NotFoundError
from segmentkit.redact import MASK, Redactor, SecretLogFilter, get_logger
from segmentkit.testing import json_response

WRONG_KEY = "ffffeeeeddddccccbbbbaaaa99998888"


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def _error_texts(err: BaseException) -> str:
    parts = [str(err), repr(err), *(str(a) for a in err.args)]
    if isinstance(err, APIError):
        parts.append(err.raw_body or "")
    return "\n".join(parts)


def test_client_and_adapter_repr_hide_the_key(any_srv):
    key = any_srv.platform.api_key
    client = any_srv.client()
    _assert_clean(repr(client), key)
    _assert_clean(repr(client.adapter), key)
    _assert_clean(repr(client.adapter.credentials), key)
    _assert_clean(str(client.adapter.credentials), key)
    assert "memory" in repr(client)


def test_authentication_error_hides_the_wrong_and_the_right_key(any_srv):
    client = any_srv.client(WRONG_KEY)
    with pytest.raises(AuthenticationError) as info:
        client.segments.list().to_list()
    assert info.value.status_code == 401
    _assert_clean(_error_texts(info.value), WRONG_KEY, any_srv.platform.api_key)


def test_not_found_error_hides_the_key(any_srv):
    client = any_srv.client()
    with pytest.raises(NotFoundError) as info:
        client.segments.get("999")
    assert "404" in str(info.value)
    _assert_clean(_error_texts(info.value), any_srv.platform.api_key)


def _echo_key(request):
    key = request.headers.get("X-Api-Key", "")
    return json_response({"error": f"bad key {key}", "errors": {"api_key": [key]}}, 400)


def test_error_from_a_body_echoing_the_key_masks_it_when_printed(any_srv):
    any_srv.platform.route("GET", "echo", _echo_key)
    key = any_srv.platform.api_key
    with pytest.raises(APIError) as info:
        any_srv.client().request("GET", "echo")
    _assert_clean(_error_texts(info.value), key)
    assert MASK in str(info.value)


def test_error_from_a_body_echoing_the_key_does_not_hold_it(srv):
    srv.platform.route("GET", "echo", _echo_key)
    key = srv.platform.api_key
    with pytest.raises(APIError) as info:
        srv.client().request("GET", "echo")
    _assert_clean(repr(info.value.messages), key)
    _assert_clean(repr(info.value.field_errors), key)


def test_debug_logs_never_show_the_key(any_srv, sleeps, caplog):
    any_srv.platform.add_segment("a", members=[{"email": "a@example.com"}])
    any_srv.faults.add("503", methods=("GET",), limit=1)
    any_srv.faults.add("reset", methods=("GET",), path="members", limit=1)
    key = any_srv.platform.api_key
    caplog.set_level(logging.DEBUG, logger="segmentkit")
    client = any_srv.client(_sleep=sleeps)
    client.segments.get("1")
    assert [r.email for r in client.recipients.list("1")] == ["a@example.com"]
    client.recipients.add("1", ["b@example.com"])
    with pytest.raises(AuthenticationError):
        any_srv.client(WRONG_KEY).segments.get("1")
    assert client.stats.retries == 2
    assert any(r.name.startswith("segmentkit") for r in caplog.records)
    assert any("->" in r.getMessage() for r in caplog.records)
    _assert_clean(caplog.text, key, WRONG_KEY)
    for record in caplog.records:
        _assert_clean(record.getMessage(), key, WRONG_KEY)


def test_events_never_show_the_key(any_srv, sleeps):
    any_srv.platform.add_segment("a")
    any_srv.faults.add("503", methods=("GET",), limit=1)
    key = any_srv.platform.api_key
    events = []
    client = any_srv.client(_sleep=sleeps, on_event=events.append)
    client.segments.list().to_list()
    client.segments.get("1")
    kinds = {e.kind for e in events}
    assert {"request_sent", "response_received", "retry_scheduled", "page_fetched"} <= kinds
    for event in events:
        _assert_clean(repr(event), key)
    sent = [e for e in events if e.kind == "request_sent"]
    assert all(e.headers["X-Api-Key"] == MASK for e in sent)


def test_fake_request_log_never_shows_the_key(any_srv):
    any_srv.platform.add_segment("a")
    key = any_srv.platform.api_key
    client = any_srv.client()
    client.segments.list().to_list()
    client.recipients.add("1", ["a@example.com"])
    assert len(any_srv.log) == 2
    _assert_clean(any_srv.log.text(), key)


def test_secret_log_filter_masks_a_secret_logged_by_accident(caplog):
    secret = "accidental-secret-9f8e7d6c"
    Redactor([secret])
    caplog.set_level(logging.DEBUG, logger="segmentkit")
    log = get_logger("segmentkit.tests.accident")
    log.warning("the key is %s, again: %r", secret, {"k": secret})
    log.info(f"inline {secret}")
    assert len(caplog.records) == 2
    _assert_clean(caplog.text, secret)
    assert MASK in caplog.records[0].getMessage()


def test_secret_log_filter_on_a_user_handler_masks_any_logger():
    secret = "user-handler-secret-1234abcd"
    Redactor([secret])
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    handler.addFilter(SecretLogFilter())
    logger = logging.getLogger("some.app.module")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("connecting with %s", secret)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert seen == [f"connecting with {MASK}"]


def test_redactor_masks_headers_urls_and_fields():
    redactor = Redactor(["topsecretvalue"], secret_headers=["PublicKey"])
    assert redactor.headers({"publickey": "x", "Authorization": "y", "Accept": "a"}) == {
        "publickey": MASK,
        "Authorization": MASK,
        "Accept": "a",
    }
    url = redactor.url(
        "https://user:topsecretvalue@h.example/p?api_key=abc&page=2&x=topsecretvalue"
    )
    assert "topsecretvalue" not in url
    assert "abc" not in url
    assert "user" not in url
    assert "page=2" in url
    assert redactor.fields({"token": "t", "segment_id": "5", "name": "topsecretvalue"}) == {
        "token": MASK,
        "segment_id": "5",
        "name": MASK,
    }


def test_redactor_ignores_values_too_short_to_be_keys():
    assert Redactor(["ab"]).text("abc ab") == "abc ab"


@pytest.mark.parametrize(
    "spelling",
    [
        lambda k: json.dumps(k),
        lambda k: json.dumps(k, ensure_ascii=False),
        lambda k: json.dumps(k).replace("/", "\\/"),
        lambda k: json.dumps(json.dumps(k)),
        lambda k: quote(k, safe=""),
        lambda k: quote_plus(k),
        lambda k: html.escape(k),
        lambda k: base64.b64encode(f"Bearer {k}".encode()).decode(),
        lambda k: base64.b64encode(f"user:{k}".encode("latin-1")).decode(),
    ],
)
def test_redactor_masks_every_spelling_of_a_key(spelling):
    key = 'K3y"\\/é<&>0123456789'
    text = f"echo: {spelling(key)}"
    masked = Redactor([key]).text(text)
    assert spelling(key) not in masked
    assert MASK in masked
