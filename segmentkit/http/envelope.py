"""Decoding answers and classifying failures.

:class:`Decoder` turns a read :class:`requests.Response` into a JSON value or an error from the
:mod:`segmentkit.errors` tree; :class:`ErrorRules` is how an adapter declares the failures its
platform signals (status table, titles, field names, message patterns, ``success=`` for
envelopes that fail inside HTTP 200, one optional ``classify`` hook).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic_core import from_json

from ..errors import (
    STATUS_ERRORS,
    APIError,
    RateLimitError,
    UnexpectedResponseError,
    error_class_for_status,
)
from ..redact import Redactor
from .retry import server_wait

__all__ = [
    "Decoder",
    "ErrorRules",
    "dotted",
    "loads",
    "messages_from_body",
    "success_field",
    "text_excerpt",
]

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

ErrorHook = Callable[[requests.Response, Any], "APIError | None"]
MessagesHook = Callable[[Any], tuple[list[str], dict[str, list[str]]]]


def loads(content: bytes) -> Any:
    """A JSON document → its value, exactly as :func:`json.loads` gives it, or its error.

    pydantic-core's parser (jiter, already a dependency) reads a document in about half the
    time and memory traffic (issue 14: JSON was a third of a listed item's cost); whatever it
    does not take (a UTF-8 BOM, lone surrogates, nesting past its depth, malformed text) goes
    to :func:`json.loads`, which accepts or raises as before. ``tests/http/test_loads.py``
    checks both give the same value, type for type, over generated documents.
    """
    try:
        return from_json(content, cache_strings=True)
    except ValueError:
        return json.loads(content)


def text_excerpt(text: str, limit: int = 200) -> str:
    """A short, tag-free, single-line excerpt of a body (for HTML error pages)."""
    plain = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def messages_from_body(body: Any) -> tuple[list[str], dict[str, list[str]]]:
    """Extract (messages, field errors) from a common error body shape."""
    messages: list[str] = []
    fields: dict[str, list[str]] = {}
    if isinstance(body, Mapping):
        for key in ("message", "error", "errors", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str):
                messages.append(value)
            elif isinstance(value, Mapping) and isinstance(value.get("message"), str):
                messages.append(value["message"])
            elif isinstance(value, Mapping):
                for k, v in value.items():
                    fields[str(k)] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, Mapping):
                        text = item.get("title") or item.get("message") or item.get("detail")
                        if text:
                            messages.append(str(text))
                    elif isinstance(item, str):
                        messages.append(item)
    return messages, fields


def success_field(key: str, *ok: str) -> Callable[[Any], bool]:
    """An ``ErrorRules(success=...)`` rule for envelopes that carry their outcome in a body
    field: the answer succeeded when ``body[key]`` is one of ``ok`` (allstech:
    ``success_field("status", "success")``). An empty body is left to the decoder, which
    decides whether one is allowed."""
    wanted = frozenset(ok)

    def succeeded(body: Any) -> bool:
        return body is None or (isinstance(body, Mapping) and body.get(key) in wanted)

    return succeeded


@dataclass(frozen=True)
class ErrorRules:
    """A declaration of how a platform signals failure, checked in this order:

    1. ``classify(response, body)`` — one optional hook for what a table cannot say;
       then, with ``keep_transient``, a 429 or 5xx is classified by its status alone,
       whatever its body says (pacing, retries and reconciliation depend on those classes);
    2. ``success(body)`` — for HTTP 2xx envelopes: ``False`` means the answer is a failure
       (e.g. allstech's ``"status": "failed"`` inside HTTP 200, API-SPEC §2.2);
    3. ``titles`` — exact message texts → error class;
    4. ``fields`` — a field named in the field errors → error class;
    5. ``messages`` — ordered ``(regex, class)`` pairs searched in every message;
    6. ``status`` — the HTTP status table (on top of :data:`segmentkit.errors.STATUS_ERRORS`).

    A failing 2xx envelope that no rule names becomes :class:`UnexpectedResponseError`, unless
    ``carried_status`` names where it carries its own HTTP status (a dotted path, list indices
    allowed, e.g. JSON:API's ``errors.0.status``): then that status (400 when missing or
    unreadable) is classified as if the answer had it.

    ``text_status`` maps a carried status sent as a JSON *string* (e.g. ``"401"``) to a class
    that wins over every rule but ``classify``, on a 2xx answer or one with that same HTTP
    status; the error carries the first message, else ``HTTP <status>`` (66text sends the
    string only for a missing or malformed Bearer header, in any language, API-SPEC 1.3).
    """

    status: Mapping[int, type[APIError]] = field(default_factory=dict)
    titles: Mapping[str, type[APIError]] = field(default_factory=dict)
    fields: Mapping[str, type[APIError]] = field(default_factory=dict)
    messages: Sequence[tuple[str, type[APIError]]] = ()
    success: Callable[[Any], bool] | None = None
    classify: ErrorHook | None = None
    extract: MessagesHook = messages_from_body
    keep_transient: bool = False
    carried_status: str | None = None
    text_status: Mapping[str, type[APIError]] = field(default_factory=dict)

    def error_for(self, response: requests.Response, body: Any) -> APIError | None:
        """The error ``body`` (decoded JSON) with ``response``'s status carries, or ``None``."""
        if self.classify is not None:
            found = self.classify(response, body)
            if found is not None:
                return found
        status = response.status_code
        if self.text_status and self.carried_status is not None:
            sent = dotted(body, self.carried_status)
            text = sent.strip() if isinstance(sent, str) else ""
            texted = self.text_status.get(text) if text else None
            if texted is not None and (status < 300 or str(status) == text):
                messages, _ = self.extract(body)
                number = int(text) if text.isdigit() else None
                return texted(messages[0] if messages else f"HTTP {text}", status_code=number)
        if self.keep_transient and (status == 429 or status >= 500):
            messages, fields = self.extract(body)
            kept = self.status.get(status) or error_class_for_status(status)
            return kept(status_code=status, messages=messages, field_errors=fields)
        failed = status >= 300 or (self.success is not None and not self.success(body))
        if not failed:
            return None
        if status < 300 and self.carried_status is not None:
            status = _carried(body, self.carried_status)
        messages, fields = self.extract(body)
        cls: type[APIError] | None = None
        for text in messages:
            cls = self.titles.get(text.strip())
            if cls is not None:
                break
        if cls is None:
            for name in fields:
                cls = self.fields.get(name)
                if cls is not None:
                    break
        if cls is None and self.messages:
            every = messages + [m for ms in fields.values() for m in ms]
            for pattern, candidate in self.messages:
                if any(re.search(pattern, m) for m in every):
                    cls = candidate
                    break
        if cls is None:
            if status >= 300:
                cls = self.status.get(status) or STATUS_ERRORS.get(status)
                cls = cls or error_class_for_status(status)
            else:
                cls = UnexpectedResponseError
        return cls(
            provider=None,
            status_code=status if status >= 300 or self.carried_status else None,
            messages=messages,
            field_errors=fields,
        )


def dotted(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` in decoded JSON (list indices allowed, e.g.
    ``errors.0.title``), or ``None`` when any step is missing."""
    value = body
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _carried(body: Any, path: str) -> int:
    try:
        return int(dotted(body, path)) or 400
    except (TypeError, ValueError, OverflowError):
        return 400


class Decoder:
    """Decodes answers for one client and completes the errors they carry."""

    def __init__(
        self,
        provider: str,
        redactor: Redactor,
        *,
        error_hook: ErrorHook | None = None,
        messages: MessagesHook = messages_from_body,
    ) -> None:
        self.provider = provider
        self.redactor = redactor
        self.error_hook = error_hook
        self.messages = messages

    def decode(self, response: requests.Response, *, allow_empty: bool) -> Any:
        """The decoded JSON body, ``None`` for an allowed empty body, or raise the error the
        answer carries (adapter hook first, then the status table)."""
        status = response.status_code
        content = response.content
        body: Any = None
        decode_error: str | None = None
        text = ""
        if content.strip():
            try:
                body = loads(content)
            except (ValueError, RecursionError) as exc:
                # Masked before any excerpt is cut from it (a cut key would escape masking).
                text = self.redactor.text(content.decode("utf-8", errors="replace"))
                decode_error = str(exc) or type(exc).__name__
        if decode_error is None and self.error_hook is not None:
            error = self.error_hook(response, body)
            if error is not None:
                raise self.complete(error, response, body)
        if status >= 300:
            cls = error_class_for_status(status)
            if decode_error is not None or body is None:
                excerpt = text_excerpt(text) if text else f"HTTP {status} with an empty body"
                if 500 <= status < 600 and text:
                    excerpt = f"HTML error page: {excerpt}"
                err = cls(excerpt, provider=self.provider, status_code=status)
            else:
                messages, fields = self.messages(body)
                err = cls(
                    provider=self.provider,
                    status_code=status,
                    messages=messages,
                    field_errors=fields,
                )
            raise self.complete(err, response, body if body is not None else text)
        if decode_error is not None:
            raise self.complete(
                UnexpectedResponseError(
                    f"answer is not JSON ({text_excerpt(text, 80)!r})",
                    provider=self.provider,
                    status_code=status,
                ),
                response,
                text,
            )
        if body is None and not allow_empty:
            raise UnexpectedResponseError(
                "empty answer where JSON was expected", provider=self.provider, status_code=status
            )
        return body

    def complete(self, error: APIError, response: requests.Response, body: Any) -> APIError:
        """Fill the parts of an adapter-built error that only the core knows."""
        if error.provider is None:
            error.provider = self.provider
        if error.status_code is None and response.status_code >= 300:
            error.status_code = response.status_code
        if error.raw_body is None:
            error.raw_body = self.excerpt(body)
        if error.retry_after is None and (
            isinstance(error, RateLimitError) or response.status_code in (429, 503)
        ):
            error.retry_after = server_wait(response.headers, status=response.status_code)
        return error

    def excerpt(self, data: Any, limit: int = 500) -> str:
        """A masked, truncated text form of ``data`` for error messages."""
        try:
            text = data if isinstance(data, str) else json.dumps(data, default=str)
        except (TypeError, ValueError):
            text = repr(data)
        except RecursionError:
            text = f"<{type(data).__name__} nested too deeply to show>"
        # Mask before cutting: a key straddling the cut would not be recognised after it.
        return self.redactor.text(text)[:limit]
