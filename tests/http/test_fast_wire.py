"""The lean path's own encoders and parsers against the ones they stand in for: a text
multipart form byte for byte as ``requests`` encodes it (API-SPEC 2.1: allstech takes
multipart), and an answer's header block exactly as ``http.client`` parses it."""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
from typing import Any
from unittest import mock

import pytest
import requests
import requests.models
import urllib3.exceptions
import urllib3.filepost
import urllib3.util.response

from segmentkit.http._headers import FastHTTPResponse, parse_header_lines
from segmentkit.http._multipart import encode_text_form, new_boundary
from segmentkit.http.transport import ClientOptions, Transport, _LeanSession
from segmentkit.redact import Redactor

# ------------------------------------------------------------------ multipart


def _requests_encoding(files: Any, boundary: str) -> tuple[bytes, str]:
    with mock.patch.object(urllib3.filepost, "choose_boundary", return_value=boundary):
        body, ctype = requests.models.RequestEncodingMixin._encode_files(files, None)
    return body, ctype


FORMS = [
    {"segment_id": (None, "12"), "first_name": (None, "Ann"), "email": (None, "a@example.com")},
    {"first_name": (None, 'Zoë "q"\r\n'), "last_name": (None, "Ünïcødé 名前")},
    {'we"ird\nname\r': (None, "x"), "é": (None, "y")},
    {"raw": (None, b"\xff\x00\r\n--"), "empty": (None, ""), "blank": (None, b"")},
    {"only": (None, "one")},
]


@pytest.mark.parametrize("files", FORMS)
def test_a_text_form_is_encoded_byte_for_byte_as_requests_does(files: Any) -> None:
    boundary = new_boundary()
    assert encode_text_form(files, boundary) == _requests_encoding(files, boundary)


@pytest.mark.parametrize(
    "files",
    [
        {"a": ("name.txt", "x")},  # a file name
        {"a": (None, "x", "text/plain")},  # a content type
        {"a": (None, "x", None, {"X-H": "1"})},
        {b"a": (None, "x")},  # a bytes field name
        {"a": (None, 5)},
        {"a": (None, None)},  # requests leaves such a field out
        {"a": (None, bytearray(b"x"))},
        {"a": "x"},  # requests names the file after the field
        [("a", (None, "x"))],
        {},
    ],
)
def test_any_other_shape_is_left_to_requests(files: Any) -> None:
    assert encode_text_form(files, new_boundary()) is None


def test_a_value_holding_the_boundary_is_never_encoded_with_it() -> None:
    boundary = new_boundary()
    assert encode_text_form({"a": (None, f"x--{boundary}--")}, boundary) is None
    assert encode_text_form({"a": (None, boundary.encode())}, boundary) is None


def test_boundaries_are_random_per_session_and_constant_within_one() -> None:
    one, two = _LeanSession(), _LeanSession()
    assert one._boundary != two._boundary
    assert re.fullmatch(r"[0-9a-f]{32}", one._boundary)


class _Recorder(threading.Thread):
    """Accepts one connection and answers ``count`` requests, keeping their bodies and
    Content-Type headers."""

    def __init__(self, count: int) -> None:
        super().__init__(daemon=True)
        self.count = count
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5.0)
        self.port = self.listener.getsockname()[1]
        self.seen: list[tuple[str, bytes]] = []

    def run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5.0)
            reader = conn.makefile("rb")
            for _ in range(self.count):
                line = reader.readline()
                if not line:
                    return
                headers = http.client.parse_headers(reader)
                body = reader.read(int(headers.get("Content-Length", "0")))
                self.seen.append((headers.get("Content-Type", ""), body))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        self.listener.close()


def test_the_lean_session_sends_the_form_requests_would_with_its_boundary() -> None:
    forms = [FORMS[0], FORMS[1], {"a": ("f.txt", "file")}]
    recorder = _Recorder(len(forms))
    recorder.start()
    transport = Transport(
        provider="t", options=ClientOptions(), redactor=Redactor(), emit=None, session=None
    )
    session = transport.session
    assert isinstance(session, _LeanSession)
    url = f"http://127.0.0.1:{recorder.port}/segment/email/store"
    try:
        for files in forms:
            transport.send("POST", url, headers={}, files=files, write=True)
    finally:
        transport.close()
        recorder.join(timeout=10)
    assert len(recorder.seen) == len(forms)
    for files, (ctype, body) in zip(forms[:2], recorder.seen[:2], strict=True):
        assert (body, ctype) == _requests_encoding(files, session._boundary)
    # A file part is requests' own encoding, with a fresh boundary of its own.
    ctype, body = recorder.seen[2]
    boundary = ctype.partition("boundary=")[2]
    assert boundary
    assert boundary != session._boundary
    assert (body, ctype) == _requests_encoding(forms[2], boundary)


# ------------------------------------------------------------------ answer headers

BLOCKS = [
    b"Content-Type: application/json\r\nContent-Length: 12\r\n\r\n",
    b"content-type: text/html; charset=utf-8\r\nX-RateLimit-Limit: 60\r\n"
    b"X-RateLimit-Remaining: 59\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
    b"X-Empty:\r\nX-Spaces:    padded value   \r\nX-Tab:\tv\r\n\r\n",
    b"Content-Type: application/json\nContent-Length: 2\n\n",  # bare LF
    b"X-Latin: caf\xe9\r\n\r\n",
    b"\r\n",  # no headers at all
    b"X-Fold: one\r\n two\r\n\r\n",  # a continuation line
    b"X-Cr: a\rb\r\n\r\n",  # a stray CR
    b"NoColonHere\r\nX-A: 1\r\n\r\n",
    b"X-Space : v\r\n\r\n",  # a blank before the colon
    b": no name\r\n\r\n",
    b" leading: blank\r\n\r\n",
    b"From nobody\r\nX-A: 1\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"X-A: 1\r\n",  # EOF before the blank line
    b"",
]


def _lines(block: bytes) -> list[bytes]:
    fp = io.BytesIO(block)
    return http.client._read_headers(fp)  # type: ignore[attr-defined,no-any-return]


def _facts(message: Any) -> tuple[Any, ...]:
    try:
        urllib3.util.response.assert_header_parsing(message)
        parsing = "ok"
    except urllib3.exceptions.HeaderParsingError as exc:
        parsing = str(exc)
    payload = message.get_payload()
    if isinstance(payload, list):  # parts of a message/* or multipart/* body
        payload = [(part.items(), part.get_payload()) for part in payload]
    return (
        message.items(),
        [type(d) for d in message.defects],
        payload or None,
        message.get_content_type(),
        parsing,
        message.get_all("set-cookie"),
    )


@pytest.mark.parametrize("block", BLOCKS)
def test_a_header_block_parses_as_http_client_parses_it(block: bytes) -> None:
    expected = http.client.parse_headers(io.BytesIO(block))
    assert _facts(parse_header_lines(_lines(block))) == _facts(expected)


def test_plain_blocks_never_reach_the_email_parser() -> None:
    """The point of it: ordinary answers (the first six blocks) skip the email parser, the
    irregular ones all go to it."""
    plain = 6
    import segmentkit.http._headers as headers

    with mock.patch.object(headers, "_email_parse", wraps=headers._email_parse) as spy:
        for block in BLOCKS[:plain]:
            parse_header_lines(_lines(block))
        assert spy.call_count == 0
        for block in BLOCKS[plain:]:
            parse_header_lines(_lines(block))
        assert spy.call_count == len(BLOCKS) - plain


class _FakeSocket:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))  # type: ignore[arg-type]


ANSWERS = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "GET"),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET"),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "GET"),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", "GET"),
    (
        b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        "POST",
    ),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", "DELETE"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc", "GET"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nabc", "GET"),
    (b"HTTP/1.1 500 Internal Server Error\r\nX-Fold: a\r\n b\r\nContent-Length: 1\r\n\r\n!", "GET"),
]


def _read(cls: type[http.client.HTTPResponse], data: bytes, method: str) -> tuple[Any, ...]:
    response = cls(_FakeSocket(data), method=method)  # type: ignore[arg-type]
    response.begin()
    return (
        response.status,
        response.reason,
        response.version,
        response.length,
        response.chunked,
        response.will_close,
        response.msg.items(),
        response.read(),
    )


@pytest.mark.parametrize(("data", "method"), ANSWERS)
def test_an_answer_begins_as_http_client_begins_it(data: bytes, method: str) -> None:
    assert _read(FastHTTPResponse, data, method) == _read(http.client.HTTPResponse, data, method)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"",
        b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
    ],
)
def test_a_broken_answer_fails_as_http_client_fails(data: bytes) -> None:
    failures = []
    for cls in (FastHTTPResponse, http.client.HTTPResponse):
        with pytest.raises(http.client.HTTPException) as info:
            _read(cls, data, "GET")
        failures.append((type(info.value), str(info.value)))
    assert failures[0] == failures[1]
