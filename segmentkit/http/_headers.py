"""Reading an answer's header block without the ``email`` package, for the lean send path.

``http.client`` parses every answer's headers with ``email.parser`` (a feed parser, a policy
object, a regex per line): for a small JSON answer that is a tenth of the client's CPU per
request. :class:`FastHTTPResponse` is ``http.client.HTTPResponse`` whose ``begin`` reads the same
lines, under the same limits (``http.client._read_headers``: line length, header count), and
builds the same :class:`http.client.HTTPMessage` directly when the block is plain — one
``Name: value`` per line, CRLF or LF endings, no continuation lines, no stray CR, names of
printable ASCII without a colon, no ``multipart``/``message`` content type. Anything else goes to
the email parser exactly as ``http.client`` does, so its results (and the defects urllib3 warns
about) are unchanged.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any

__all__ = ["FastHTTPResponse", "parse_header_lines"]

# The feed parser's header line: a name of printable ASCII except ':' (RFC 5322 ftext), then
# ':' (email.feedparser.headerRE, here required non-empty and without the "From " form).
_NAME = re.compile(r"[\041-\071\073-\176]+")
_read_headers: Any = getattr(http.client, "_read_headers", None)


def _email_parse(lines: list[bytes]) -> http.client.HTTPMessage:
    """What ``http.client.parse_headers`` does with the lines it read."""
    text = b"".join(lines).decode("iso-8859-1")
    message: http.client.HTTPMessage = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
        text
    )
    return message


def parse_header_lines(lines: list[bytes]) -> http.client.HTTPMessage:
    """The :class:`http.client.HTTPMessage` ``http.client.parse_headers`` returns for the header
    ``lines`` (as read by ``http.client._read_headers``: the blank line, or EOF, last)."""
    if not lines or lines[-1] not in (b"\r\n", b"\n"):
        return _email_parse(lines)
    message = http.client.HTTPMessage()
    for index in range(len(lines) - 1):
        line = lines[index].decode("iso-8859-1")
        if line.endswith("\r\n"):
            line = line[:-2]
        elif line.endswith("\n"):
            line = line[:-1]
        else:
            return _email_parse(lines)
        name, colon, value = line.partition(":")
        if (
            not colon
            or "\r" in line
            or "\n" in line
            or not _NAME.fullmatch(name)
            or (index == 0 and line.startswith("From "))
        ):
            return _email_parse(lines)
        if name.lower() == "content-type" and value.strip().lower().startswith(
            ("multipart/", "message/")
        ):
            return _email_parse(lines)
        # email.policy.compat32.header_source_parse: leading blanks of the value go.
        message.set_raw(name, value.lstrip(" \t"))
    return message


class FastHTTPResponse(http.client.HTTPResponse):
    """``http.client.HTTPResponse`` with :func:`parse_header_lines` in place of the email
    parser; ``begin`` is CPython's own (identical from 3.10 to 3.13) otherwise."""

    def begin(self) -> None:
        if self.headers is not None:
            # we've already started reading the response
            return
        if _read_headers is None:  # a Python without the helper: the stdlib's own way
            super().begin()
            return

        # read until we get a non-100 response
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            # skip the header from the 100 response
            _read_headers(self.fp)

        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            # Some servers might still return "0.9", treat it as 1.0 anyway
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11  # use HTTP/1.1 code for HTTP/1.x where x>=1
        else:
            raise http.client.UnknownProtocol(version)

        self.headers = self.msg = parse_header_lines(_read_headers(self.fp))

        # are we using the chunked-style of transfer encoding?
        tr_enc = self.headers.get("transfer-encoding")
        if tr_enc and tr_enc.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False

        # will the connection close at the end of the response?
        self.will_close = self._check_close()

        # do we have a Content-Length?
        # NOTE: RFC 2616, S4.4, #3 says we ignore this if tr_enc is "chunked"
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:  # ignore nonsensical negative lengths
                    self.length = None
        else:
            self.length = None

        # does the body have a fixed length? (of zero)
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200  # 1xx codes
            or self._method == "HEAD"
        ):
            self.length = 0

        # if the connection remains open, and we aren't using chunked, and
        # a content-length was not provided, then assume that the connection
        # WILL close.
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True
