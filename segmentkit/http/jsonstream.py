"""Stream the items of one big JSON array without holding the document.

Some endpoints answer a whole listing as one JSON document (allstech ``segment/email/list``
returns every member of a segment at once, API-SPEC 2.3 / Unknowns 8). Parsed whole, 200,000
members cost hundreds of MiB; :func:`iter_items` yields them one by one from the response's
byte chunks with `ijson <https://pypi.org/project/ijson/>`_ (its C backend ``yajl2_c`` when
installed), so memory stays flat whatever the length.

Usage with ``requests``::

    resp = session.get(url, stream=True)
    for member in iter_items(resp.iter_content(65536), "message.contactEmails.item"):
        ...

``ijson`` is imported on first use, not with ``segmentkit``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import UnexpectedResponseError

__all__ = ["DEFAULT_MAX_ITEM_BYTES", "backend_name", "iter_items"]

#: Largest stretch of the document that may go by without completing an item (1 MiB): one
#: member or segment is a few hundred bytes, so anything near this is not a listing.
DEFAULT_MAX_ITEM_BYTES = 1 << 20

#: Bytes the parser reads at a time: the item cap is checked between reads, so it holds to
#: within this much.
_FEED = 64 * 1024


def _ijson() -> tuple[Any, type[Exception]]:
    """ijson's C backend when available (else the best one ijson finds), and its error."""
    ijson: Any = importlib.import_module("ijson")  # untyped: keep mypy strict elsewhere
    try:
        backend = ijson.get_backend("yajl2_c")
    except ImportError:  # pragma: no cover - depends on the platform's wheel
        backend = ijson
    return backend, ijson.JSONError


def backend_name() -> str:
    """The ijson backend :func:`iter_items` uses (``"yajl2_c"`` when the C one is present)."""
    return str(_ijson()[0].backend_name)


def iter_items(
    chunks: Iterable[bytes],
    prefix: str,
    *,
    max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
    provider: str | None = None,
) -> Iterator[Any]:
    """Yield each value at ``prefix`` (ijson syntax, e.g. ``"message.item"`` for every element
    of the array under key ``message``) from a JSON document arriving as ``chunks`` of bytes.

    Values come out as :func:`json.loads` would give them (numbers with a fraction as
    ``float``), except that integers beyond 64 bits are refused (the C parser's limit with
    float numbers; no platform here sends such numbers). Nothing but the current item and
    ijson's small buffers is kept, so memory does not grow with the number of items.
    Raises :class:`UnexpectedResponseError` (naming
    ``provider``) when the document is not valid JSON, ends early, or when more than
    ``max_item_bytes`` go by without completing an item (a single item too large, or a huge
    stretch before the first one). A document without ``prefix`` yields nothing.
    """
    if max_item_bytes < 1:
        raise ValueError("max_item_bytes must be positive")
    backend, json_error = _ijson()
    # ijson's pull parser over a file-like view of the chunks: several times faster than its
    # push (coroutine) interface with the C backend.
    reader = _ChunkReader(chunks, max_item_bytes, prefix, provider)
    try:
        for item in backend.items(reader, prefix, use_float=True, buf_size=_FEED):
            reader.pending = 0
            yield item
    except json_error as exc:
        # Only the parser's first line: the rest quotes the document.
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise UnexpectedResponseError(
            f"the JSON document is malformed or cut short ({reason})",
            provider=provider,
        ) from None


class _ChunkReader:
    """A minimal binary file over an iterator of chunks, counting the bytes handed out since
    the last completed item (reset by :func:`iter_items`)."""

    def __init__(
        self, chunks: Iterable[bytes], limit: int, prefix: str, provider: str | None
    ) -> None:
        self._chunks = iter(chunks)
        self._rest = b""
        self._limit = limit
        self._prefix = prefix
        self._provider = provider
        self.pending = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the type of the file with read(0)
            return b""
        if self.pending > self._limit:
            raise UnexpectedResponseError(
                f"a JSON item at {self._prefix!r} is larger than {self._limit} bytes "
                "(or the document holds no such list)",
                provider=self._provider,
            )
        while not self._rest:
            try:
                self._rest = bytes(next(self._chunks))
            except StopIteration:
                return b""
        n = len(self._rest) if size is None or size < 0 else size
        out, self._rest = self._rest[:n], self._rest[n:]
        self.pending += len(out)
        return out
