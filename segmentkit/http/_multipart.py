"""A small ``multipart/form-data`` body (text fields only) encoded in one pass.

``requests`` encodes ``files=`` through ``_encode_files`` and urllib3's ``RequestField`` /
``encode_multipart_formdata``: a field object, a header dict and a codec writer per field, and a
fresh random boundary per request. The allstech adapter sends four short text fields per added
recipient as multipart (API-SPEC 2.1), so that machinery is a visible share of a bulk add.

:func:`encode_text_form` produces the same bytes ``requests`` would for the same boundary (the
tests compare them), for the one shape it accepts: a mapping of ``str`` names to
``(None, str | bytes)`` pairs (a field without a file name). Anything else returns ``None`` and
the caller takes ``requests``' own encoder. The boundary is the caller's: one random boundary per
session (``requests`` makes one per request; nothing depends on it changing, and a constant one
lets the server's parser cache its patterns). A value that contains the boundary is never
encoded with it: the caller falls back to ``requests`` and its fresh random boundary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["encode_text_form", "new_boundary"]

#: urllib3's ``format_multipart_header_param``: ``\n``, ``\r`` and ``"`` percent-encoded.
_QUOTE = {10: "%0A", 13: "%0D", 34: "%22"}
_NAMES: dict[str, bytes] = {}  # rendered part headers per field name (a handful ever)


def new_boundary() -> str:
    """A random boundary like urllib3's ``choose_boundary`` (32 hex digits)."""
    return os.urandom(16).hex()


def _part_head(name: str) -> bytes:
    head = _NAMES.get(name)
    if head is None:
        quoted = name.translate(_QUOTE)
        head = f'Content-Disposition: form-data; name="{quoted}"\r\n\r\n'.encode()
        if len(_NAMES) < 256:
            _NAMES[name] = head
    return head


def encode_text_form(files: Any, boundary: str) -> tuple[bytes, str] | None:
    """The body and ``Content-Type`` of ``files`` as ``requests`` would encode them with
    ``boundary``, or ``None`` when ``files`` is not a mapping of ``str`` names to
    ``(None, str | bytes)`` pairs (or a value contains the boundary)."""
    if not isinstance(files, Mapping) or not files:
        return None
    mark = boundary.encode("latin-1")
    opening = b"--" + mark + b"\r\n"
    parts: list[bytes] = []
    for name, value in files.items():
        if type(name) is not str or type(value) is not tuple or len(value) != 2:
            return None
        filename, data = value
        if filename is not None:
            return None
        if type(data) is str:
            data = data.encode("utf-8")
        elif type(data) is not bytes:
            return None
        if mark in data:
            return None
        parts.append(opening)
        parts.append(_part_head(name))
        parts.append(data)
        parts.append(b"\r\n")
    parts.append(b"--" + mark + b"--\r\n")
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
