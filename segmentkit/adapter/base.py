"""The adapter base class :class:`Provider` and the adapter API it offers.

The core owns every operation (design doc "core owns operations" §2.2-2.4): the request
pipeline (:class:`~segmentkit.http.session.Session`: auth, shared budget, pacing, retries,
reconciliation, decoding, error classification), paging, the membership engine and its
concurrency. An adapter *declares* what is provider-specific and implements small, single-call
primitives over ``self.http``.

**Declarations** (class attributes): ``name``, ``display_name``, ``channel``,
``default_base_url``, ``Credentials``, ``Settings``, ``fake``, ``secret_headers``,
``max_page_size``, ``rate_limit`` (:class:`~segmentkit.http.RateLimit`), ``paging``
(a :class:`~segmentkit.http.paging.PagingStyle`, default :class:`Unpaged`), ``errors``
(:class:`~segmentkit.http.envelope.ErrorRules`), ``accepts_ids_on_add``; and a membership
shape from :mod:`segmentkit.adapter.stores` as a second base class.

**What an adapter may call**: ``self.http`` (``get``/``post``/``delete``/``request``/
``get_items``), ``self.settings``, ``self.name``, :meth:`secret` (only to build auth headers),
:meth:`unsupported`, :meth:`parse`, :meth:`parse_items`, :meth:`url`, :meth:`page_fetched`,
:meth:`stream_pages`, :meth:`paged`, :meth:`segments_page`, :meth:`checked_write`,
:meth:`numeric_path`, :attr:`options`.

**What an adapter overrides**: :meth:`auth_headers` (required), :meth:`list_segments`,
:meth:`get_segment`, the optional segment operations, :meth:`list_recipients`,
:meth:`recipient_problem`,
:meth:`messages_from_body`; and, only for what :attr:`errors` cannot express,
:meth:`error_from_response`.

Everything else is private to the core. Kept for adapter API 1.0 and deprecated (the core and
the built-in adapters do not use them for new code): :meth:`request`, :meth:`write`,
:meth:`schedule_retry`, :meth:`retry_delay`, :meth:`map_concurrent`. An adapter never sleeps,
starts threads or retries by itself (``tests/core/test_meta.py`` checks the built-in ones and
the example).

A minimal adapter::

    class AcmeProvider(Provider, PerMemberStore):
        name = "acme"
        display_name = "Acme SMS"
        channel = "sms"
        default_base_url = "https://api.acme.example/v1/"
        rate_limit = RateLimit(100, 60.0)
        paging = PageNumber(page="page", size="per_page")
        errors = ErrorRules(titles={"Segment not found": NotFoundError})

        class Credentials(BaseModel):
            model_config = ConfigDict(extra="forbid")
            api_key: SecretStr

        def auth_headers(self):
            return {"Authorization": f"Bearer {self.secret('api_key')}"}

        def list_segments(self, query, page):
            body = self.http.get("segments", params={"page": page or 1})
            ...
            return Page(items=[...], next_page=...)

        def get_segment(self, segment_id): ...

Capabilities are derived from which optional methods the adapter overrides and the membership
shape it declares; an operation the adapter lacks raises :class:`UnsupportedOperationError`
before any request. See ``ADDING_PROVIDERS.md``.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, ClassVar, TypedDict, TypeVar, overload

import pydantic
import requests
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from typing_extensions import Unpack

from .._version import CORE_API_VERSION
from ..errors import (
    APIError,
    NotFoundError,
    UnexpectedResponseError,
    UnsupportedOperationError,
)
from ..events import PageFetched
from ..http.envelope import Decoder, ErrorRules, text_excerpt
from ..http.envelope import messages_from_body as _default_messages
from ..http.paging import PagingStyle, Unpaged, walk_pages
from ..http.retry import RateLimit
from ..http.session import IDEMPOTENT as _IDEMPOTENT
from ..http.session import Retry, Session
from ..models import (
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
from ..redact import Redactor
from ..transport import Transport
from .wire import problem, validate_items

__all__ = [
    "BearerKey",
    "NoSettings",
    "Provider",
    "SegmentChange",
    "SegmentDraft",
    "text_excerpt",
    "walk_pages",
]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_ = _IDEMPOTENT  # re-exported name of the old module

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


#: Streamed listings left half read that keep their connection open (per adapter).
_OPEN_STREAMS = 4


def _close(stream: Iterator[Any]) -> None:
    if isinstance(stream, Generator):
        stream.close()


class NoSettings(BaseModel):
    """Default adapter settings: none. Unknown keywords are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BearerKey(BaseModel):
    """Credentials of a platform that takes one API key as ``Authorization: Bearer KEY``:
    ``api_key``, non-empty and without whitespace (a bearer token holds none, RFC 6750 §2.1;
    a server reading it with ``Bearer\\s(\\S+)`` would cut it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: SecretStr

    @field_validator("api_key")
    @classmethod
    def _no_spaces(cls, v: SecretStr) -> SecretStr:
        text = v.get_secret_value()
        if not text or any(ch.isspace() for ch in text):
            raise ValueError("api_key must be non-empty and contain no whitespace")
        return v


class SegmentDraft(TypedDict):
    """What :meth:`Provider.create_segment` is given, as keywords: ``name``, and either
    ``recipients`` (a static segment) or ``rules`` with ``match`` (a dynamic one); the other
    is ``None``. An override writes ``def create_segment(self, **draft:
    Unpack[SegmentDraft]) -> Segment`` and reads ``draft["name"]``."""

    name: str
    recipients: Sequence[Recipient] | None
    rules: Sequence[Rule] | None
    match: Match


class SegmentChange(TypedDict):
    """What :meth:`Provider.update_segment` is given, as keywords: only what is not ``None``
    changes, everything else must survive. An override writes ``def update_segment(self,
    segment_id: str, **change: Unpack[SegmentChange]) -> Segment``."""

    name: str | None
    recipients: Sequence[Recipient] | None
    rules: Sequence[Rule] | None
    match: Match | None


class _NoCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    #: Length of the platform's fixed rate-limit window (seconds); adapter API 1.0, read only
    #: when no :attr:`rate_limit` is declared (a declaration carries its window).
    rate_limit_window: ClassVar[float | None] = None
    #: The platform's documented rate limit and who shares it (a shared budget per scope).
    rate_limit: ClassVar[RateLimit | None] = None
    #: How the platform pages its listings (query parameters and next tokens).
    paging: ClassVar[PagingStyle] = Unpaged()
    #: How the platform signals failure (used by the default :meth:`error_from_response`).
    errors: ClassVar[ErrorRules | None] = None
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
        self._lock = threading.RLock()
        self._open_streams: dict[int, Iterator[Any]] = {}
        self._stream_ids = itertools.count(1)
        self.decoder = Decoder(
            self.name,
            self.redactor,
            error_hook=self.error_from_response,
            messages=self.messages_from_body,
        )
        #: The request pipeline: the one thing adapters call to talk to the platform.
        self.http: Session = Session(
            provider=self.name,
            base_url=self.base_url,
            transport=transport,
            auth=self.auth_headers,
            decoder=self.decoder,
            rate_limit=self.rate_limit,
            account=self.secret_values(credentials),
        )

    # ------------------------------------------------------------------ class-level facts

    @classmethod
    def capabilities(cls) -> frozenset[Capability]:
        """The operations this adapter implements: segment operations from its overrides,
        adding and removing members from the membership shape it declares
        (:mod:`segmentkit.adapter.stores`), or — adapter API 1.0, deprecated — from its own
        ``add_recipients``/``remove_recipients`` overrides."""
        from .stores import store_shape

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

    def create_segment(self, **draft: Unpack[SegmentDraft]) -> Segment:
        """Create a segment from members (static) or rules (dynamic), as
        :class:`SegmentDraft` describes. Optional."""
        raise self.unsupported("creating a segment")

    def update_segment(self, segment_id: str, **change: Unpack[SegmentChange]) -> Segment:
        """Change only what is not ``None`` (:class:`SegmentChange`); everything else must
        survive. Optional."""
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
        the core falls back to the status table and :meth:`messages_from_body`. When the
        adapter declares :attr:`errors`, those rules decide.
        """
        rules = self.errors
        return rules.error_for(response, body) if rules is not None else None

    def messages_from_body(self, body: Any) -> tuple[list[str], dict[str, list[str]]]:
        """Extract (messages, field errors) from an error body; override for odd envelopes."""
        return _default_messages(body)

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

    def numeric_path(self, collection: str, ident: str, what: str) -> str:
        """``collection/ident`` for a platform that casts path ids to integers, where any
        other id would address id 0: such an id raises :class:`NotFoundError` (a 404 from
        the platform) before anything is sent. ``what`` names the resource in the error."""
        if not (ident.isascii() and ident.isdigit()):
            raise NotFoundError(
                f"{what} id {ident!r} is not a number", provider=self.name, status_code=404
            )
        return f"{collection}/{ident}"

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` (relative to ``base_url``; an absolute URL must be on the
        client's own origin, else :class:`~segmentkit.ConfigurationError`)."""
        return self.http.url(path)

    def parse(self, model: type[M], data: Any, *, what: str) -> M:
        """Validate ``data`` into wire ``model``; a mismatch is :class:`UnexpectedResponseError`
        naming ``what`` and the first problem, never a ``KeyError``."""
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as exc:
            where, msg = problem(exc)
            loc = ".".join(str(p) for p in where)
            raise UnexpectedResponseError(
                f"unexpected {what} format: {loc or 'body'}: {msg}",
                provider=self.name,
                raw_body=self._excerpt(data),
            ) from None

    @overload
    def parse_items(
        self, model: type[M], items: Sequence[Any], *, what: str, into: None = None
    ) -> list[M]: ...

    @overload
    def parse_items(
        self, model: type[M], items: Sequence[Any], *, what: str, into: Callable[[M, Any], T]
    ) -> list[T]: ...

    def parse_items(
        self,
        model: type[M],
        items: Sequence[Any],
        *,
        what: str,
        into: Callable[[M, Any], T] | None = None,
    ) -> list[M] | list[T]:
        """Validate a page of ``items`` into wire ``model`` (see
        :func:`~segmentkit.adapter.wire.validate_items`); a bad item is
        :class:`UnexpectedResponseError` naming its position, with a masked excerpt. With
        ``into``, each item is mapped by ``into(wire, item)`` as soon as it is validated and
        the results are returned (the way to list: the wire models never pile up)."""
        return validate_items(
            model, items, what=what, provider=self.name, excerpt=self._excerpt, into=into
        )

    @property
    def _headers_cache(self) -> dict[str, str] | None:
        # Old name of the session's cached auth headers (tests replace it to send no auth).
        return self.http._auth

    @_headers_cache.setter
    def _headers_cache(self, value: dict[str, str] | None) -> None:
        self.http._auth = value

    def _excerpt(self, data: Any, limit: int = 500) -> str:
        return self.decoder.excerpt(data, limit)

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
        """Send an authenticated request and return the decoded JSON body (old surface of
        :meth:`Session.request <segmentkit.http.session.Session.request>`, kept working).

        Retries what is safe: for idempotent requests (GET, DELETE, or ``idempotent=True``)
        connection failures, timeouts, 429, 5xx and unreadable bodies; for writes only 429 and
        failures that provably happened before sending. A retried DELETE that finds 404 counts
        as done when ``missing_ok_on_retry``. ``allow_empty`` accepts an empty body (returns
        ``None``). Errors are translated into the :mod:`segmentkit.errors` tree.
        """
        return self.http.request(
            method,
            path,
            params=params,
            data=data,
            files=files,
            json=json_body,
            headers=headers,
            idempotent=idempotent,
            gone_ok=missing_ok_on_retry,
            allow_empty=allow_empty,
        )

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
        may raise to stop. New code uses ``self.http.post(..., retry=Retry.after(lookup))``.
        """
        if reconcile is None:
            retry = Retry.safe
        else:
            fn = reconcile

            def lookup(exc: BaseException) -> Any:
                return fn()

            retry = Retry.after(lookup)
        json_body = kwargs.pop("json_body", None)
        kwargs.pop("idempotent", None)
        if "missing_ok_on_retry" in kwargs:
            kwargs["gone_ok"] = kwargs.pop("missing_ok_on_retry")
        return self.http.request(
            method, path, json=json_body, idempotent=False, retry=retry, **kwargs
        )

    def schedule_retry(
        self, method: str, url: str, attempt: int, delay: float, exc: BaseException
    ) -> None:
        """Count a retry, emit :class:`RetryScheduled` and wait ``delay`` seconds (legacy: for
        adapters that still retry in rounds of their own; the session does this itself)."""
        self.http._schedule_retry(method, url, attempt, delay, exc)

    def retry_delay(self, exc: BaseException, *, idempotent: bool, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or ``None`` to give up now (legacy
        view of the session's decision)."""
        return self.http._retry_delay(exc, idempotent=idempotent, attempt=attempt)

    def map_concurrent(self, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
        """Apply ``fn`` to every item on a bounded thread pool (``concurrency`` option),
        returning results in input order; ``fn`` should turn its own failures into results.
        A ``KeyboardInterrupt`` cancels the queued calls at once instead of waiting for them.

        Deprecated (adapter API 1.0), with a ``DeprecationWarning``: concurrency belongs to the
        core; membership operations use a shape from :mod:`segmentkit.adapter.stores` and the
        engine runs them concurrently. No built-in adapter calls it; it goes away in 2.0."""
        warnings.warn(
            f"{type(self).__name__}.map_concurrent is adapter API 1.0; implement one membership "
            "shape from segmentkit.adapter.stores and let the engine run writes concurrently "
            "— this goes away in 2.0",
            DeprecationWarning,
            stacklevel=2,
        )
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

    def checked_write(
        self,
        path: str,
        *,
        read: Callable[[], T],
        holds: Callable[[T], bool],
        not_applied: Callable[[BaseException], BaseException | None] | None = None,
        strict: str | None = None,
        **kwargs: Any,
    ) -> T:
        """POST a write whose result is checked by reading it back; returns what ``read()``
        gives after the write (``kwargs`` go to :meth:`Session.post
        <segmentkit.http.session.Session.post>`).

        When the outcome is unknown (no answer, a 5xx, an unreadable answer), ``read()`` is
        asked before any re-send (:meth:`Retry.after <segmentkit.http.session.Retry.after>`):
        when ``holds`` its result the write was applied and is not sent again; otherwise
        ``not_applied(exc)`` may return the error to raise instead (e.g. a known server bug
        that applies nothing), else the session sends it again within its retry budget.
        ``strict`` describes what was sent: a read-back that does not hold it after an answered
        write is then :class:`UnexpectedResponseError`; without it the caller judges the
        read-back (the membership engine detects members a platform dropped)."""
        applied: list[T] = []

        def lookup(exc: BaseException) -> Any:
            now = read()
            if holds(now):
                applied.append(now)
                return True
            error = not_applied(exc) if not_applied is not None else None
            if error is not None:
                raise error from exc
            return None  # provably not applied: the session sends it again

        self.http.post(path, retry=Retry.after(lookup), **kwargs)
        result = applied[-1] if applied else read()
        if strict is not None and not holds(result):
            raise UnexpectedResponseError(
                f"the platform answered the write to {path} as done but it does not hold what "
                f"was sent ({strict})",
                provider=self.name,
            )
        return result

    def stream_pages(
        self,
        page: Any,
        start: Callable[[], Iterator[T]],
        *,
        resource: str,
        size: int = 1000,
    ) -> Page[T]:
        """Serve one streamed listing (e.g. :meth:`Session.get_items
        <segmentkit.http.session.Session.get_items>`) as pages of ``size`` items, for an
        endpoint that answers everything at once: ``list_recipients(segment_id, page)`` returns
        ``self.stream_pages(page, lambda: self._members(segment_id), resource="recipients")``.

        ``page`` is the listing's token (``None``: call ``start()``); the next token names the
        open stream, so a listing never holds more than one page however long it is. At most
        four listings left half read stay open (older ones are closed, and asking for their
        next page is :class:`UnexpectedResponseError`).
        """
        streams = self._open_streams
        if page is None:
            key, number, stream = next(self._stream_ids), 1, start()
        else:
            key, number = page
            found = streams.pop(key, None)
            if found is None:
                raise UnexpectedResponseError(
                    "this listing was left unread too long (its stream was closed); list again",
                    provider=self.name,
                )
            stream = found
        items = list(itertools.islice(stream, size))
        next_page: tuple[int, int] | None = None
        if len(items) == size:
            streams[key] = stream
            next_page = (key, number + 1)
            while len(streams) > _OPEN_STREAMS:
                _close(streams.pop(next(iter(streams))))
        else:
            _close(stream)
        self.page_fetched(resource, number, len(items), None)
        # "streamed": the pages cut one answer, so they cannot repeat each other's items.
        return Page(items=items, page=number, next_page=next_page, extra={"streamed": True})

    def paged(
        self, resource: str, items: list[T], *, token: Any, body: Any, size: int | None = None
    ) -> Page[T]:
        """One page of a listing paged the declared way (:attr:`paging`): the next token read
        from ``body`` (``size`` as asked with ``self.paging.params(token, size)``) and the
        page announced (:meth:`page_fetched`). ``list_recipients`` ends with ``return
        self.paged("recipients", items, token=page, body=body)``."""
        next_page = self.paging.next_token(token, body, len(items), size)
        number = token if isinstance(token, int) and not isinstance(token, bool) else None
        self.page_fetched(resource, number, len(items), None)
        return Page(items=items, next_page=next_page)

    def segments_page(self, segments: Sequence[Segment], query: SegmentQuery) -> Page[Segment]:
        """Every segment of a platform that lists them in one unpaginated answer, as the only
        page: announces the page (:meth:`page_fetched`) and applies ``query`` client-side, with
        the reference semantics every platform shares. ``list_segments`` returns it."""
        self.page_fetched("segments", 1, len(segments), 1)
        items = query.apply(segments)
        return Page(items=items, page=1, total_pages=1, total=len(items), next_page=None)

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
