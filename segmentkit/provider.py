"""The adapter contract: :class:`Provider`.

The base class owns the HTTP flow: building URLs, sending through the client's
:class:`~segmentkit.transport.Transport`, decoding JSON, translating failures into the error
tree, retrying what is safe to retry, reconciling writes whose outcome is unknown, paging, and
keeping secrets out of errors. An adapter supplies only what is provider-specific: auth headers,
wire models, mapping functions and the endpoints.

A minimal adapter::

    class AcmeProvider(Provider):
        name = "acme"
        display_name = "Acme SMS"
        channel = "sms"
        default_base_url = "https://api.acme.example/v1/"

        class Credentials(BaseModel):
            model_config = ConfigDict(extra="forbid")
            api_key: SecretStr

        def auth_headers(self):
            return {"Authorization": f"Bearer {self.secret('api_key')}"}

        def list_segments(self, query, page):
            body = self.request("GET", "segments", params={"page": page or 1})
            ...
            return Page(items=[...], next_page=...)

        def get_segment(self, segment_id): ...

Capabilities are derived from which optional methods the adapter overrides; an operation the
adapter lacks raises :class:`UnsupportedOperationError` before any request.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, ClassVar, TypeVar

import pydantic
import requests
from pydantic import BaseModel, ConfigDict, SecretStr

from ._version import CORE_API_VERSION
from .errors import (
    APIError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    SegmentkitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    error_class_for_status,
)
from .events import PageFetched, RetryScheduled
from .models import (
    Capability,
    Channel,
    ItemOutcome,
    Match,
    Page,
    Recipient,
    Rule,
    Segment,
    SegmentQuery,
)
from .redact import Redactor
from .transport import Transport, parse_retry_after

__all__ = ["NoSettings", "Provider", "walk_pages"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

#: Optional operations and the capability each one grants when overridden.
_OPTIONAL = {
    "list_segments": Capability.list_segments,
    "get_segment": Capability.get_segment,
    "create_segment": Capability.create_segment,
    "update_segment": Capability.update_segment,
    "delete_segment": Capability.delete_segment,
    "list_recipients": Capability.list_recipients,
    "add_recipients": Capability.add_recipients,
    "remove_recipients": Capability.remove_recipients,
}


#: Operations a membership shape provides (the engine runs them over the shape's primitives).
_MEMBERSHIP = frozenset({"add_recipients", "remove_recipients"})


class NoSettings(BaseModel):
    """Default adapter settings: none. Unknown keywords are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _NoCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def text_excerpt(text: str, limit: int = 200) -> str:
    """A short, tag-free, single-line excerpt of a body (for HTML error pages)."""
    plain = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


class Provider:
    """Base class of every adapter. Subclass it, set the class attributes, implement
    :meth:`auth_headers`, :meth:`list_segments`, :meth:`get_segment` and any optional
    operations, and register the class through the ``segmentkit_register_providers`` hook.
    """

    #: Provider id: entry-point name, DSN scheme, env prefix (``SEGMENTKIT_<NAME>_...``).
    name: ClassVar[str] = ""
    #: Human name for tables and messages.
    display_name: ClassVar[str] = ""
    #: ``"sms"`` (recipients identified by E.164 phone) or ``"email"``.
    channel: ClassVar[Channel] = "sms"
    #: Base URL used when neither DSN host nor ``base_url`` is given; must end with ``/``.
    default_base_url: ClassVar[str] = ""
    #: The core adapter API version this adapter targets (major must match the core's).
    api_version: ClassVar[str] = CORE_API_VERSION
    #: Credentials model (``extra="forbid"``); ``SecretStr`` fields are masked everywhere.
    #: Field order is the DSN order: ``scheme://<field1>:<field2>@host``.
    Credentials: ClassVar[type[BaseModel]] = _NoCredentials
    #: Adapter settings (``extra="forbid"``), taken from connect() keywords and DSN query.
    Settings: ClassVar[type[BaseModel]] = NoSettings
    #: ``"module:Class"`` of this adapter's fake platform, for ``segmentkit.testing.fake()``.
    fake: ClassVar[str | None] = None
    #: Header names that carry secrets, beyond ``Authorization``.
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    #: Largest page size the platform accepts (listings use it by default).
    max_page_size: ClassVar[int | None] = None
    #: Length of the platform's fixed rate-limit window, when documented (seconds).
    rate_limit_window: ClassVar[float | None] = None
    #: Whether ``add_recipients`` accepts recipients identified only by a provider id.
    accepts_ids_on_add: ClassVar[bool] = False

    def __init__(
        self,
        credentials: BaseModel,
        *,
        base_url: str,
        transport: Transport,
        settings: BaseModel | None = None,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.transport = transport
        self.settings = settings if settings is not None else self.Settings()
        self.redactor: Redactor = transport.redactor
        self._headers_cache: dict[str, str] | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ class-level facts

    @classmethod
    def capabilities(cls) -> frozenset[Capability]:
        """The operations this adapter implements: segment operations from its overrides,
        adding and removing members from the membership shape it declares
        (:mod:`segmentkit.adapter.stores`), or — adapter API 1.0, deprecated — from its own
        ``add_recipients``/``remove_recipients`` overrides."""
        from .adapter.stores import store_shape

        shaped = store_shape(cls) is not None
        caps = set()
        for attr, cap in _OPTIONAL.items():
            overridden = getattr(cls, attr) is not getattr(Provider, attr)
            if attr in _MEMBERSHIP:
                overridden = shaped or overridden
            if overridden:
                caps.add(cap)
        return frozenset(caps)

    @classmethod
    def secret_values(cls, credentials: BaseModel) -> list[str]:
        """The plain values of every ``SecretStr`` credential (for the redactor only)."""
        out = []
        for fname in type(credentials).model_fields:
            value = getattr(credentials, fname)
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.redactor.url(self.base_url)}>"

    # ------------------------------------------------------------------ adapter surface

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request. Required."""
        raise NotImplementedError(f"{type(self).__name__} must implement auth_headers()")

    def list_segments(self, query: SegmentQuery, page: Any) -> Page[Segment]:
        """Return one page of segments matching ``query``; ``page`` is ``None`` for the first
        page, else the previous page's ``next_page``. Required."""
        raise self.unsupported("listing segments")

    def get_segment(self, segment_id: str) -> Segment:
        """Return one segment or raise :class:`NotFoundError`. Required."""
        raise self.unsupported("getting a segment")

    def create_segment(
        self,
        *,
        name: str,
        recipients: Sequence[Recipient] | None,
        rules: Sequence[Rule] | None,
        match: Match,
    ) -> Segment:
        """Create a segment from members (static) or rules (dynamic). Optional."""
        raise self.unsupported("creating a segment")

    def update_segment(
        self,
        segment_id: str,
        *,
        name: str | None,
        recipients: Sequence[Recipient] | None,
        rules: Sequence[Rule] | None,
        match: Match | None,
    ) -> Segment:
        """Change only what is not ``None``; everything else must survive. Optional."""
        raise self.unsupported("updating a segment")

    def delete_segment(self, segment_id: str) -> None:
        """Delete a segment. Optional."""
        raise self.unsupported("deleting a segment")

    def list_recipients(self, segment_id: str, page: Any) -> Page[Recipient]:
        """One page of a segment's members (``page`` as in :meth:`list_segments`). Optional."""
        raise self.unsupported("listing recipients")

    def add_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        """Adapter API 1.0 (deprecated): add valid, de-duplicated recipients and return one
        outcome per input. Implement a membership shape from :mod:`segmentkit.adapter.stores`
        instead; an override is still called by the engine, with a ``DeprecationWarning``."""
        raise self.unsupported("adding recipients")

    def remove_recipients(
        self, segment_id: str, recipients: Sequence[Recipient]
    ) -> Sequence[ItemOutcome]:
        """Adapter API 1.0 (deprecated): remove recipients; one outcome per input. Implement
        a membership shape from :mod:`segmentkit.adapter.stores` instead."""
        raise self.unsupported("removing recipients")

    def recipient_problem(self, recipient: Recipient) -> str | None:
        """Why the platform would refuse to add ``recipient`` (e.g. a required field it lacks),
        or ``None``. Checked before any request; such items are ``rejected``."""
        return None

    def error_from_response(self, response: requests.Response, body: Any) -> APIError | None:
        """Return the error an answer carries, or ``None`` when it is a success.

        Called for every decoded answer, whatever its status, so adapters can recognise
        failures inside HTTP 200 and map titles to classes. The default returns ``None`` and
        the core falls back to the status table and :meth:`messages_from_body`.
        """
        return None

    def messages_from_body(self, body: Any) -> tuple[list[str], dict[str, list[str]]]:
        """Extract (messages, field errors) from an error body; override for odd envelopes."""
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

    # ------------------------------------------------------------------ helpers for adapters

    @property
    def options(self) -> Any:
        """The client's :class:`~segmentkit.transport.ClientOptions`."""
        return self.transport.options

    def secret(self, field: str) -> str:
        """The plain value of credential ``field`` (only for building auth headers)."""
        value = getattr(self.credentials, field)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def unsupported(self, operation: str, hint: str = "") -> UnsupportedOperationError:
        """Build the error for an operation this platform's API cannot express."""
        return UnsupportedOperationError(self.name, operation, hint)

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` (relative to ``base_url``; absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + path.lstrip("/")

    def _auth(self) -> dict[str, str]:
        headers = self._headers_cache
        if headers is None:
            headers = self._headers_cache = dict(self.auth_headers())
        return headers

    def parse(self, model: type[M], data: Any, *, what: str) -> M:
        """Validate ``data`` into wire ``model``; a mismatch is :class:`UnexpectedResponseError`
        naming ``what`` and the first problem, never a ``KeyError``."""
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as exc:
            errors = exc.errors()
            loc = ".".join(str(p) for p in errors[0]["loc"]) if errors else "body"
            msg = errors[0]["msg"] if errors else "invalid"
            raise UnexpectedResponseError(
                f"unexpected {what} format: {loc or 'body'}: {msg}",
                provider=self.name,
                raw_body=self._excerpt(data),
            ) from None

    def _excerpt(self, data: Any, limit: int = 500) -> str:
        try:
            text = data if isinstance(data, str) else json.dumps(data, default=str)
        except (TypeError, ValueError):
            text = repr(data)
        except RecursionError:
            text = f"<{type(data).__name__} nested too deeply to show>"
        # Mask before cutting: a key straddling the cut would not be recognised after it.
        return self.redactor.text(text)[:limit]

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        files: Any = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        missing_ok_on_retry: bool = False,
        allow_empty: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send an authenticated request and return the decoded JSON body.

        Retries what is safe: for idempotent requests (GET, DELETE, or ``idempotent=True``)
        connection failures, timeouts, 429, 5xx and unreadable bodies; for writes only 429 and
        failures that provably happened before sending. A retried DELETE that finds 404 counts
        as done when ``missing_ok_on_retry``. ``allow_empty`` accepts an empty body (returns
        ``None``). Errors are translated into the :mod:`segmentkit.errors` tree.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        url = self.url(path)
        send_headers = self._auth() if not headers else {**self._auth(), **headers}
        transport = self.transport
        attempt = 0
        while True:
            attempt += 1
            try:
                response = transport.send(
                    method,
                    url,
                    headers=send_headers,
                    params=params,
                    data=data,
                    files=files,
                    json=json_body,
                    write=not idempotent,
                    attempt=attempt,
                )
                return self._decode(response, allow_empty=allow_empty)
            except SegmentkitError as exc:
                if missing_ok_on_retry and attempt > 1 and isinstance(exc, NotFoundError):
                    return None
                delay = self.retry_delay(exc, idempotent=idempotent, attempt=attempt)
                if delay is None:
                    raise
                self.schedule_retry(method, url, attempt, delay, exc)

    def schedule_retry(
        self, method: str, url: str, attempt: int, delay: float, exc: BaseException
    ) -> None:
        """Count a retry, emit :class:`RetryScheduled` and wait ``delay`` seconds (adapters
        that retry in rounds of their own call it between rounds)."""
        transport = self.transport
        transport.stats.add_retry()
        if transport.listening:
            transport.emit(
                RetryScheduled(
                    provider=self.name,
                    method=method,
                    url=self.redactor.url(url),
                    attempt=attempt,
                    delay=delay,
                    reason=f"{type(exc).__name__}: {exc}",
                )
            )
        transport.sleep(delay)

    def retry_delay(self, exc: BaseException, *, idempotent: bool, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or ``None`` to give up now."""
        policy = self.transport.retry_policy
        if not policy.can_retry(attempt):
            return None
        rng = self.transport.rng
        if isinstance(exc, RateLimitError):
            return policy.delay(attempt, rng, exc.retry_after)
        if isinstance(exc, TransportError):
            if idempotent or not exc.request_sent:
                return policy.delay(attempt, rng)
            return None
        if not idempotent:
            return None
        if isinstance(exc, ServerError):
            return policy.delay(attempt, rng, exc.retry_after)
        if isinstance(exc, UnexpectedResponseError) and (exc.status_code or 200) < 300:
            return policy.delay(attempt, rng)
        return None

    def _decode(self, response: requests.Response, *, allow_empty: bool) -> Any:
        status = response.status_code
        content = response.content  # may raise ChunkedEncodingError → TransportError upstream
        body: Any = None
        decode_error: str | None = None
        text = ""
        if content.strip():
            try:
                body = json.loads(content)
            except (ValueError, RecursionError) as exc:
                # Masked before any excerpt is cut from it (a cut key would escape masking).
                text = self.redactor.text(content.decode("utf-8", errors="replace"))
                decode_error = str(exc) or type(exc).__name__
        error = self.error_from_response(response, body) if decode_error is None else None
        if error is not None:
            raise self._complete(error, response, body)
        if status >= 300:
            cls = error_class_for_status(status)
            if decode_error is not None or body is None:
                excerpt = text_excerpt(text) if text else f"HTTP {status} with an empty body"
                if 500 <= status < 600 and text:
                    excerpt = f"HTML error page: {excerpt}"
                err = cls(excerpt, provider=self.name, status_code=status)
            else:
                messages, fields = self.messages_from_body(body)
                err = cls(
                    provider=self.name, status_code=status, messages=messages, field_errors=fields
                )
            raise self._complete(err, response, body if body is not None else text)
        if decode_error is not None:
            raise self._complete(
                UnexpectedResponseError(
                    f"answer is not JSON ({text_excerpt(text, 80)!r})",
                    provider=self.name,
                    status_code=status,
                ),
                response,
                text,
            )
        if body is None and not allow_empty:
            raise UnexpectedResponseError(
                "empty answer where JSON was expected", provider=self.name, status_code=status
            )
        return body

    def _complete(self, error: APIError, response: requests.Response, body: Any) -> APIError:
        """Fill the parts of an adapter-built error that only the core knows."""
        if error.provider is None:
            error.provider = self.name
        if error.status_code is None and response.status_code >= 300:
            error.status_code = response.status_code
        if error.raw_body is None:
            error.raw_body = self._excerpt(body)
        if error.retry_after is None and (
            isinstance(error, RateLimitError) or response.status_code in (429, 503)
        ):
            error.retry_after = parse_retry_after(response.headers)
        return error

    def write(
        self,
        method: str,
        path: str,
        *,
        reconcile: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a non-idempotent write; never re-send it blindly.

        When the outcome is unknown (no answer, a 5xx, an unreadable answer), ``reconcile`` is
        called to look the object up: a non-``None`` result means the write was applied and is
        returned instead of the body; ``None`` means it was not, and the write is retried (with
        backoff, within ``max_retries``). Without ``reconcile`` the error is raised. Reconcile
        may raise to stop (for example when the platform is known to fail this write).
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.request(method, path, idempotent=False, **kwargs)
            except (OutcomeUnknownError, ServerError, UnexpectedResponseError) as exc:
                # All three leave the write's outcome unknown: look before re-sending.
                if reconcile is None:
                    raise
                found = reconcile()
                if found is not None:
                    return found
                policy = self.transport.retry_policy
                if not policy.can_retry(attempt):
                    raise
                self.schedule_retry(
                    method, self.url(path), attempt, policy.delay(attempt, self.transport.rng), exc
                )

    def map_concurrent(self, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
        """Apply ``fn`` to every item on a bounded thread pool (``concurrency`` option),
        returning results in input order; ``fn`` should turn its own failures into results.
        A ``KeyboardInterrupt`` cancels the queued calls at once instead of waiting for them.
        (Membership operations do not use it: the engine runs their concurrency.)"""
        workers = min(self.transport.options.concurrency, len(items))
        if workers <= 1:
            return [fn(item) for item in items]
        results: list[Any] = [None] * len(items)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)
        try:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def page_fetched(
        self, resource: str, page: int | None, items: int, total_pages: int | None
    ) -> None:
        """Emit a :class:`PageFetched` event (adapters call it for each page they read)."""
        if not self.transport.listening:
            return
        self.transport.emit(
            PageFetched(
                provider=self.name,
                resource=resource,
                page=page,
                items=items,
                total_pages=total_pages,
            )
        )


def walk_pages(fetch: Callable[[Any], Page[T]], *, max_pages: int = 1_000_000) -> Iterator[Page[T]]:
    """Yield pages from ``fetch(token)`` starting at ``None`` until ``next_page`` is ``None``.

    Bounded: stops on a repeated token, or after ``total_pages`` (+1) or ``max_pages`` pages, so
    a platform that keeps answering "next" cannot loop us forever.
    """
    token: Any = None
    seen: set[Any] = set()
    for count in range(1, max_pages + 1):
        page = fetch(token)
        yield page
        token = page.next_page
        if token is None:
            return
        key = token if isinstance(token, str | int | tuple) else repr(token)
        if key in seen:
            return
        seen.add(key)
        if page.total_pages is not None and count > page.total_pages:
            return
