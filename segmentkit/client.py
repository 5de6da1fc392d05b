"""The public facade: :func:`connect` and :class:`Client`."""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar, overload

import pydantic

from .config import parse_dsn, resolve_base_url, resolve_credentials
from .coordination import Coordinator, get_coordinator
from .errors import (
    ConfigurationError,
    SegmentkitError,
    UnexpectedResponseError,
)
from .events import Event
from .http.session import Timeout
from .membership import engine
from .membership.intake import Policy, admit, strict
from .membership.plan import SyncPlan, SyncResult, apply_plan, sync_segment
from .membership.progress import Progress, ProgressCallback, Reporter
from .models import (
    BulkResult,
    Capability,
    Channel,
    Match,
    Page,
    Recipient,
    Rule,
    Segment,
    SegmentKind,
    SegmentQuery,
)
from .plugins import Registry, default_registry
from .provider import Provider, walk_pages
from .redact import Redactor, get_logger, mask
from .transport import ClientOptions, Stats, Transport

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+; annotations only

__all__ = ["Client", "Listing", "RecipientsAPI", "SegmentsAPI", "connect"]

log = get_logger("segmentkit.client")
T = TypeVar("T")


@contextlib.contextmanager
def _guard(provider: str) -> Iterator[None]:
    """Turn adapter-side surprises from malformed data into :class:`UnexpectedResponseError`,
    so only :class:`SegmentkitError` subclasses escape the public API."""
    try:
        yield
    except SegmentkitError:
        raise
    except (
        pydantic.ValidationError,
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        UnicodeError,
        OverflowError,
        RecursionError,
    ) as exc:
        # Not chained: the original (e.g. a pydantic error quoting the input) could carry
        # body text into a printed traceback. Its type and masked message are kept here.
        raise UnexpectedResponseError(
            f"could not understand the answer: {type(exc).__name__}: {mask(str(exc))[:200]}",
            provider=provider,
        ) from None


class Listing(Generic[T]):
    """A lazy listing: iterate it for every item across pages, or call :meth:`pages`.

    Each iteration starts again from the first page. Pages are fetched only as needed, so
    memory does not grow with the number of pages.
    """

    def __init__(self, provider: str, fetch: Callable[[Any], Page[T]]) -> None:
        self._provider = provider
        self._fetch = fetch

    def pages(self) -> Iterator[Page[T]]:
        """Yield one :class:`Page` at a time."""
        it = walk_pages(self._fetch)
        while True:
            with _guard(self._provider):
                page = next(it, None)
            if page is None:
                return
            yield page

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def to_list(self) -> list[T]:
        """Every item, as a list."""
        return list(self)


class SegmentsAPI:
    """``client.segments``: list, get, create, update, delete."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        search: str | None = None,
        *,
        provider_type: str | None = None,
        kind: SegmentKind | str | None = None,
        created_after: Any = None,
        created_before: Any = None,
        updated_after: Any = None,
        updated_before: Any = None,
        order_by: str | None = None,
        descending: bool = False,
        page_size: int | None = None,
        query: SegmentQuery | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> Listing[Segment]:
        """Segments matching the filters, lazily, across every page.

        ``search`` is a case-insensitive substring of the name. Page size defaults to the
        provider's largest, so a full listing takes the fewest requests. ``timeout`` and
        ``retries`` override the client's for this call's requests (see :meth:`Client.request`).
        """
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.list_segments, "listing segments")
        if query is None:
            try:
                query = SegmentQuery(
                    search=search,
                    provider_type=provider_type,
                    kind=SegmentKind(kind) if isinstance(kind, str) else kind,
                    created_after=created_after,
                    created_before=created_before,
                    updated_after=updated_after,
                    updated_before=updated_before,
                    order_by=order_by,
                    descending=descending,
                    page_size=page_size,
                )
            except (pydantic.ValidationError, ValueError) as exc:
                raise ConfigurationError(f"invalid segment query: {exc}") from None
        q = query
        if q.order_by is None:
            return Listing(c.provider, lambda token: a.list_segments(q, token))

        def ordered(token: Any) -> Page[Segment]:
            # An order must hold across pages, and a platform may ignore order_by (66text
            # v2.0.1 does): read every page, then sort once.
            items = [s for page in walk_pages(lambda t: a.list_segments(q, t)) for s in page.items]
            items = q.apply(items)
            return Page(items=items, total=len(items), page=1, total_pages=1)

        return Listing(c.provider, ordered)

    def get(
        self,
        segment_id: str | int,
        *,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> Segment:
        """One segment by id; :class:`NotFoundError` if it does not exist."""
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.get_segment, "getting a segment")
        with _guard(c.provider):
            return a.get_segment(str(segment_id))

    def create(
        self,
        name: str,
        *,
        recipients: Iterable[Any] | None = None,
        rules: Iterable[Rule | Mapping[str, Any]] | None = None,
        match: Match = "all",
        default_region: str | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> Segment:
        """Create a static segment from ``recipients`` or a dynamic one from ``rules``.

        Every recipient is validated first; any invalid one raises
        :class:`InvalidRecipientError` naming it, before any request.
        """
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.create_segment, "creating a segment")
        if recipients is not None and rules is not None:
            raise ConfigurationError("pass recipients or rules, not both")
        members = c._strict(recipients, default_region) if recipients is not None else None
        parsed_rules = _rules(rules) if rules is not None else None
        with _guard(c.provider):
            return a.create_segment(name=name, recipients=members, rules=parsed_rules, match=match)

    def update(
        self,
        segment_id: str | int,
        *,
        name: str | None = None,
        recipients: Iterable[Any] | None = None,
        rules: Iterable[Rule | Mapping[str, Any]] | None = None,
        match: Match | None = None,
        default_region: str | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> Segment:
        """Change only what is passed; everything else the segment had is kept."""
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.update_segment, "updating a segment")
        members = c._strict(recipients, default_region) if recipients is not None else None
        parsed_rules = _rules(rules) if rules is not None else None
        with _guard(c.provider):
            return a.update_segment(
                str(segment_id), name=name, recipients=members, rules=parsed_rules, match=match
            )

    def delete(
        self,
        segment_id: str | int,
        *,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> None:
        """Delete a segment."""
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.delete_segment, "deleting a segment")
        with _guard(c.provider):
            a.delete_segment(str(segment_id))


def _rules(rules: Iterable[Rule | Mapping[str, Any]]) -> list[Rule]:
    out = []
    for r in rules:
        try:
            out.append(r if isinstance(r, Rule) else Rule.model_validate(dict(r)))
        except pydantic.ValidationError as exc:
            raise ConfigurationError(f"invalid rule {r!r}: {exc.errors()[0]['msg']}") from None
    return out


class _SyncOptions(TypedDict, total=False):
    """The keywords of :meth:`RecipientsAPI.sync` other than ``dry_run``: its overloads differ
    only in ``dry_run`` (and what it returns), so they spell the rest once, here."""

    remove_extra: bool
    default_region: str | None
    progress: ProgressCallback | None
    on_progress: Callable[[Progress], None] | None
    timeout: Timeout | None
    retries: int | None


class RecipientsAPI:
    """``client.recipients``: list, add, remove (and ``sync``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        segment_id: str | int,
        *,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> Listing[Recipient]:
        """A segment's members, lazily, across every page."""
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.list_recipients, "listing recipients")
        sid = str(segment_id)
        return Listing(c.provider, lambda token: a.list_recipients(sid, token))

    def add(
        self,
        segment_id: str | int,
        recipients: Iterable[Any],
        *,
        default_region: str | None = None,
        progress: ProgressCallback | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> BulkResult:
        """Add recipients; one outcome per input item, in order.

        Items are ``Recipient`` objects, mappings, or bare email/phone strings. Invalid ones
        (``None``, numbers that are no id, malformed phones/emails), ones without this
        channel's identity and repeats are settled before any request, each as its own
        outcome. A lone string or mapping instead of a collection raises
        :class:`InvalidRecipientError`. On Ctrl-C, raises
        :class:`~segmentkit.membership.Interrupted` carrying the partial result.
        """
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.add_recipients, "adding recipients")
        adm = admit(
            recipients,
            Policy(
                channel=a.channel,
                provider=a.name,
                mode="add",
                default_region=default_region,
                accepts_ids=_accepts_ids(a),
                problem=a.recipient_problem,
            ),
        )
        with _guard(c.provider):
            return engine.add(a, str(segment_id), adm, Reporter(progress, on_progress))

    def remove(
        self,
        segment_id: str | int,
        recipients_or_ids: Iterable[Any],
        *,
        progress: ProgressCallback | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> BulkResult:
        """Remove recipients given as ``Recipient`` objects, ids, emails or phones."""
        c = self._client
        a = c._adapter_for(timeout, retries, Capability.remove_recipients, "removing recipients")
        adm = admit(recipients_or_ids, Policy(channel=a.channel, provider=a.name, mode="remove"))
        with _guard(c.provider):
            return engine.remove(a, str(segment_id), adm, Reporter(progress, on_progress))

    @overload
    def sync(
        self,
        segment_id: str | int,
        desired: Iterable[Any],
        *,
        dry_run: Literal[False] = ...,
        **options: Unpack[_SyncOptions],
    ) -> SyncResult: ...

    @overload
    def sync(
        self,
        segment_id: str | int,
        desired: Iterable[Any],
        *,
        dry_run: Literal[True],
        **options: Unpack[_SyncOptions],
    ) -> SyncPlan: ...

    @overload
    def sync(
        self,
        segment_id: str | int,
        desired: Iterable[Any],
        *,
        dry_run: bool,
        **options: Unpack[_SyncOptions],
    ) -> SyncResult | SyncPlan: ...

    def sync(
        self,
        segment_id: str | int,
        desired: Iterable[Any],
        *,
        remove_extra: bool = True,
        dry_run: bool = False,
        default_region: str | None = None,
        progress: ProgressCallback | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> SyncResult | SyncPlan:
        """Make the segment's members equal ``desired`` (see :mod:`segmentkit.membership.plan`).

        Returns a :class:`~segmentkit.sync.SyncResult`; with ``dry_run`` the
        :class:`~segmentkit.sync.SyncPlan` (which states its request estimate and duration).
        With ``remove_extra`` a member is removed only when the input provably does not name
        it; others are reported as ``held``.
        """
        c = self._client
        a = c._adapter_for(timeout, retries)
        with _guard(c.provider):
            return sync_segment(
                a,
                str(segment_id),
                desired,
                remove_extra=remove_extra,
                dry_run=dry_run,
                default_region=default_region,
                progress=progress,
                on_progress=on_progress,
            )

    def apply(
        self,
        segment_id: str | int,
        plan: SyncPlan,
        *,
        progress: ProgressCallback | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
    ) -> SyncResult:
        """Apply a :class:`~segmentkit.sync.SyncPlan` from an earlier dry run, without
        reading the segment again."""
        c = self._client
        a = c._adapter_for(timeout, retries)
        with _guard(c.provider):
            return apply_plan(a, str(segment_id), plan, progress=progress, on_progress=on_progress)


def _accepts_ids(adapter: Provider) -> bool:
    return bool(getattr(adapter, "accepts_ids_on_add", False))


class Client:
    """One authenticated connection to one provider account. Build it with :func:`connect`.

    Safe to share between threads. Use it as a context manager, or call :meth:`close`, to
    release pooled connections.
    """

    def __init__(self, adapter: Provider, *, registry: Registry | None = None) -> None:
        self.adapter = adapter
        self.registry = registry
        self.segments = SegmentsAPI(self)
        self.recipients = RecipientsAPI(self)

    @property
    def provider(self) -> str:
        """The provider id, e.g. ``"notificator"``."""
        return self.adapter.name

    @property
    def channel(self) -> Channel:
        """``"sms"`` or ``"email"``: which identity recipients are matched by."""
        return self.adapter.channel

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this provider's adapter can do."""
        return self.adapter.capabilities()

    @property
    def base_url(self) -> str:
        """The platform base URL in use."""
        return self.adapter.base_url

    @property
    def stats(self) -> Stats:
        """Counters: requests sent, retries, 429s received, seconds spent pacing."""
        return self.adapter.transport.stats

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: Timeout | None = None,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Authenticated escape hatch: any endpoint, with the same retries and error handling.

        Keywords: ``params``, ``data``, ``files``, ``json_body``, ``idempotent``,
        ``allow_empty``. Returns the decoded JSON body.

        Every operation (this one, ``client.segments.*``, ``client.recipients.*``) also takes
        ``timeout`` — seconds for connecting and for each read, or a ``(connect, read)`` pair;
        the answer's total deadline is three times the read timeout — and ``retries``, which
        replaces ``max_retries``, for that call's requests only. Pacing, the shared rate
        budget, statistics and pooled connections stay the client's.
        """
        a = self._adapter_for(timeout, retries)
        with _guard(self.provider):
            return a.request(method, path, **kwargs)

    def close(self) -> None:
        """Close the HTTP session."""
        self.adapter.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<segmentkit.Client {self.provider} {self.adapter.redactor.url(self.base_url)}>"

    # -- internals shared by the APIs

    def _adapter_for(
        self,
        timeout: Timeout | None,
        retries: int | None,
        need: Capability | None = None,
        doing: str = "",
    ) -> Provider:
        """The adapter one call uses, after checking it can do ``need`` (else the adapter's
        "unsupported" error about ``doing``): its requests use the call's ``timeout`` and
        ``retries`` (the adapter itself when neither is given): a shallow copy holding a
        per-call view of the session, so it shares the pool, statistics, pacing, budget and
        every lock (passed explicitly, no context variables)."""
        if need is not None:
            self._require(need, doing)
        adapter = self.adapter
        if timeout is None and retries is None:
            return adapter
        view = copy.copy(adapter)
        view.http = adapter.http.view(timeout=timeout, retries=retries)
        return view

    def _require(self, cap: Capability, what: str) -> None:
        if cap not in self.capabilities:
            raise self.adapter.unsupported(what, _HINTS.get(cap, ""))

    def _strict(self, items: Iterable[Any], default_region: str | None) -> list[Recipient]:
        policy = Policy(
            channel=self.channel,
            provider=self.provider,
            mode="add",
            default_region=default_region,
            accepts_ids=True,
        )
        return list(strict(items, policy))


_HINTS = {
    Capability.create_segment: "Create the segment in the platform's web app.",
    Capability.update_segment: "Change the segment in the platform's web app.",
    Capability.delete_segment: "Delete the segment in the platform's web app.",
}


def connect(
    target: str | None = None,
    /,
    *,
    base_url: str | None = None,
    allow_insecure: bool = False,
    on_event: Callable[[Event], None] | None = None,
    coordination: str | Coordinator | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    response_deadline: float | None = None,
    max_response_bytes: int | None = None,
    max_retries: int | None = None,
    backoff_base: float | None = None,
    backoff_max: float | None = None,
    max_retry_wait: float | None = None,
    pacing: bool | None = None,
    rate_limit_window: float | None = None,
    concurrency: int | None = None,
    verify: bool | str | None = None,
    user_agent: str | None = None,
    registry: Registry | None = None,
    env: Mapping[str, str] | None = None,
    _clock: Callable[[], float] | None = None,
    _sleep: Callable[[float], None] | None = None,
    **adapter_options: str | int | float | bool | None,
) -> Client:
    """Connect to a provider account and return a :class:`Client`.

    ``target`` is a DSN (``"notificator://KEY@notificatorsms.com"``), a provider name
    (``"allstech"``, credentials from keywords or the environment), or ``None`` (the DSN in
    ``SEGMENTKIT_DSN``). Lookup order: keywords, then DSN, then
    ``SEGMENTKIT_<PROVIDER>_<FIELD>``, then the adapter default (:mod:`segmentkit.config`).

    Keywords:

    * ``base_url`` — the platform's API root (else the DSN's host, else the adapter default);
      ``allow_insecure`` permits ``http://`` to a host other than loopback;
    * ``on_event`` — receives every :class:`~segmentkit.events.Event`;
    * ``coordination`` — the backend processes share locks and rate budgets through
      (``"host"`` — the default —, ``"local"``, ``"redis://…"``, or a
      :class:`~segmentkit.coordination.Coordinator`; else ``SEGMENTKIT_COORDINATION``), see
      :mod:`segmentkit.coordination`;
    * the :class:`~segmentkit.transport.ClientOptions` fields (``connect_timeout``,
      ``read_timeout``, ``response_deadline``, ``max_response_bytes``, ``max_retries``,
      ``backoff_base``, ``backoff_max``, ``max_retry_wait``, ``pacing``,
      ``rate_limit_window``, ``concurrency``, ``verify``, ``user_agent``); ``None`` keeps the
      default;
    * ``**adapter_options`` — the adapter's credential fields (``api_key=``;
      ``public_key=``/``secret_key=``) and its own settings; a misspelt name is a
      :class:`~segmentkit.errors.ConfigurationError` listing the valid ones.
    """
    options_given = {
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "response_deadline": response_deadline,
        "max_response_bytes": max_response_bytes,
        "max_retries": max_retries,
        "backoff_base": backoff_base,
        "backoff_max": backoff_max,
        "max_retry_wait": max_retry_wait,
        "pacing": pacing,
        "rate_limit_window": rate_limit_window,
        "concurrency": concurrency,
        "verify": verify,
        "user_agent": user_agent,
    }
    kwargs: dict[str, Any] = {k: v for k, v in options_given.items() if v is not None}
    kwargs.update(adapter_options)
    if base_url is not None:
        kwargs["base_url"] = base_url
    if coordination is not None:
        get_coordinator(coordination)  # an unknown or unreachable backend fails here, early
        kwargs["coordination"] = coordination
    env = os.environ if env is None else env
    if target is None:
        target = env.get("SEGMENTKIT_DSN")
        if not target:
            raise ConfigurationError(
                "connect() needs a DSN or a provider name, or SEGMENTKIT_DSN in the environment"
            )
    dsn = parse_dsn(target) if "://" in target else None
    name = dsn.provider if dsn else target.strip().lower()
    registry = registry or default_registry()
    cls = registry.get(name)

    cred_fields = set(cls.Credentials.model_fields)
    option_fields = set(ClientOptions.model_fields)
    setting_fields = set(cls.Settings.model_fields)
    creds_kw = {k: v for k, v in kwargs.items() if k in cred_fields}
    opts_kw = {k: v for k, v in kwargs.items() if k in option_fields}
    settings_kw: dict[str, Any] = dict(dsn.query) if dsn else {}
    settings_kw.update({k: v for k, v in kwargs.items() if k in setting_fields})
    base_url = kwargs.get("base_url")
    unknown = set(kwargs) - cred_fields - option_fields - setting_fields - {"base_url"}
    if dsn:
        unknown |= set(dsn.query) - setting_fields
    if unknown:
        valid = sorted(cred_fields | option_fields | setting_fields | {"base_url"})
        raise ConfigurationError(
            f"{name}: unknown option(s) {', '.join(sorted(unknown))}; valid: {', '.join(valid)}"
        )
    credentials = resolve_credentials(name, cls.Credentials, keywords=creds_kw, dsn=dsn, env=env)
    url = resolve_base_url(
        name,
        cls.default_base_url,
        base_url=base_url,
        dsn=dsn,
        env=env,
        allow_insecure=allow_insecure,
    )
    try:
        options = ClientOptions(**opts_kw)
        settings = cls.Settings(**settings_kw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"{name}: invalid option: {problems}") from None
    redactor = Redactor(cls.secret_values(credentials), cls.secret_headers)
    transport = Transport(
        provider=name,
        options=options,
        redactor=redactor,
        emit=_emitter(registry, on_event),
        rate_limit_window=cls.rate_limit_window,
        clock=_clock or time.monotonic,
        sleep=_sleep or time.sleep,
    )
    transport.use_environment(url)
    adapter = cls(credentials, base_url=url, transport=transport, settings=settings)
    return Client(adapter, registry=registry)


def _emitter(
    registry: Registry, on_event: Callable[[Event], None] | None
) -> Callable[[Event], None] | None:
    hook = registry.pm.hook.segmentkit_event
    has_hook = bool(hook.get_hookimpls())
    if not has_hook and on_event is None:
        return None

    def emit(event: Event) -> None:
        try:
            if on_event is not None:
                on_event(event)
            if has_hook:
                hook(event=event)
        except Exception:  # an observer must never break the operation it observes
            log.exception("segmentkit_event observer failed")

    return emit
