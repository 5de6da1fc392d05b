"""Plugin discovery: adapters are pluggy plugins found through the ``segmentkit`` entry-point
group. Built-in adapters load exactly like third-party ones.

A broken plugin never takes the host down: any ``BaseException`` but ``KeyboardInterrupt``
raised by its import, its registration or its hooks (``sys.exit()`` at import included) is
caught; the plugin is skipped with a :class:`PluginWarning` and listed by
:meth:`Registry.errors` (``strict=True`` raises :class:`PluginLoadError` instead). Every class a
plugin registers is validated before use (name, channel, API version, base URL, models). A
plugin cannot silently take a name another plugin already registered; the first one wins and
the second is reported. The built-in adapters (:data:`BUILTIN_ENTRY_POINTS`) always win their
names whatever the discovery order: another distribution's entry point of the same name is
never imported, and a class registered under a built-in's provider name by any other entry
point is refused. ``SEGMENTKIT_PLUGINS`` (comma-separated allow-list of entry-point
names) and ``SEGMENTKIT_DISABLE_PLUGINS`` (deny-list) control what loads.

No module-global plugin manager: :func:`create_registry` builds a fresh one each call.
:func:`default_registry` caches one for ``connect()``; tests pass their own.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from ._version import CORE_API_VERSION, __version__
from .config import describe_target
from .errors import ConfigurationError, PluginLoadError
from .models import Capability, Channel
from .provider import Provider
from .redact import get_logger

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "BUILTIN_ENTRY_POINTS",
    "PluginFailure",
    "PluginWarning",
    "ProviderInfo",
    "Registry",
    "create_registry",
    "default_registry",
]

log = get_logger("segmentkit.plugins")
GROUP = "segmentkit"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_API_VERSION = re.compile(r"^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$")

#: The entry points this distribution declares itself (``pyproject.toml``; a meta-test keeps
#: the two equal). Their names are reserved: see the module docstring.
BUILTIN_ENTRY_POINTS: Mapping[str, str] = {
    "memory": "segmentkit.testing.memory",
    "notificator": "segmentkit_notificator.provider",
    "allstech": "segmentkit_allstech.provider",
}
_BUILTIN_DIST = "segmentkit"


def _is_builtin(ep: md.EntryPoint) -> bool:
    dist = ep.dist.name if ep.dist is not None else None
    return (
        BUILTIN_ENTRY_POINTS.get(ep.name) == ep.value
        and (dist or "").lower().replace("_", "-") == _BUILTIN_DIST
    )


def _describe(exc: BaseException) -> str:
    """``Type: message`` of a plugin's exception, for reports (messages of arbitrary
    ``__str__`` are themselves guarded)."""
    try:
        text = str(exc)
    except BaseException as inner:  # a hostile __str__ must not escape either
        if isinstance(inner, KeyboardInterrupt):
            raise
        text = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {text[:300]}" if text else name


class PluginWarning(UserWarning):
    """Warned when a plugin is skipped because it failed to load or register."""


@dataclass(frozen=True)
class ProviderInfo:
    """What :func:`segmentkit.available_providers` reports for one adapter."""

    name: str
    display_name: str
    channel: Channel
    version: str
    capabilities: frozenset[Capability]
    api_version: str
    plugin: str
    distribution: str | None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that did not load: which, from where, what kind of failure, and why."""

    plugin: str
    distribution: str | None
    kind: str  # "import" | "register" | "invalid" | "version" | "shadowed" | "hook"
    reason: str

    def __str__(self) -> str:
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"{self.plugin}{dist}: {self.kind}: {self.reason}"


@dataclass(frozen=True)
class _Origin:
    plugin: str
    distribution: str | None
    version: str


class Registry:
    """The loaded adapters of one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager, *, strict: bool) -> None:
        self.pm = pm
        self.strict = strict
        self._providers: dict[str, type[Provider]] = {}
        self._origins: dict[str, _Origin] = {}
        self._errors: list[PluginFailure] = []
        self._errors_lock = threading.Lock()
        #: Provider names only the built-in entry points may register (see module docstring).
        self.reserved: frozenset[str] = frozenset()

    # -- queries

    @property
    def providers(self) -> Mapping[str, type[Provider]]:
        """Provider name → adapter class."""
        return dict(self._providers)

    def errors(self) -> list[PluginFailure]:
        """Plugins that failed to load (or whose hooks failed at run time), and why."""
        with self._errors_lock:
            return list(self._errors)

    def get(self, name: str) -> type[Provider]:
        """The adapter class called ``name``, or :class:`ConfigurationError` saying which names
        exist (and why ``name`` failed, if it did)."""
        cls = self._providers.get(name)
        if cls is not None:
            return cls
        failed = [e for e in self._errors if e.plugin == name]
        known = ", ".join(sorted(self._providers)) or "none"
        if failed:
            raise ConfigurationError(
                f"provider {name!r} is installed but failed to load: {failed[0].reason}"
            )
        # ``name`` may be a mistyped DSN or a key pasted in the wrong place: never echo it raw.
        shown = describe_target(name)
        if not _NAME.match(name):
            raise ConfigurationError(
                f"{shown!r} is neither a provider name nor a DSN; a DSN looks like "
                "'<provider>://<credentials>@<host>'. Installed providers: "
                f"{known}."
            )
        raise ConfigurationError(
            f"unknown provider {shown!r}; installed providers: {known}. "
            f"Install the adapter package that provides it (entry-point group {GROUP!r})."
        )

    def infos(self) -> list[ProviderInfo]:
        """One :class:`ProviderInfo` per loaded adapter, sorted by name."""
        out = []
        for name in sorted(self._providers):
            cls = self._providers[name]
            origin = self._origins[name]
            out.append(
                ProviderInfo(
                    name=name,
                    display_name=cls.display_name or name,
                    channel=cls.channel,
                    version=origin.version,
                    capabilities=cls.capabilities(),
                    api_version=cls.api_version,
                    plugin=origin.plugin,
                    distribution=origin.distribution,
                )
            )
        return out

    # -- loading

    def fail(self, plugin: str, dist: str | None, kind: str, reason: str) -> None:
        """Record (or, in strict mode, raise) a plugin failure."""
        failure = PluginFailure(plugin=plugin, distribution=dist, kind=kind, reason=reason)
        if self.strict:
            raise PluginLoadError(str(failure))
        with self._errors_lock:
            self._errors.append(failure)
        log.info("segmentkit plugin skipped: %s", failure)
        warnings.warn(f"segmentkit plugin skipped: {failure}", PluginWarning, stacklevel=4)

    def add_plugin(
        self,
        obj: Any,
        *,
        name: str,
        dist: str | None,
        version: str,
        builtin: bool = True,
    ) -> None:
        """Register ``obj`` with the plugin manager and collect the providers it registers.

        ``builtin=False`` (third-party entry points) refuses classes whose provider name is
        one of :attr:`reserved`.
        """
        try:
            # Checked before registering: pluggy creates a caller for any hookimpl name, so a
            # misspelt hook would look known afterwards.
            unknown = [
                h
                for h in dir(obj)
                if h.startswith("segmentkit_")
                and not (hasattr(self.pm.hook, h) and getattr(self.pm.hook, h).has_spec())
            ]
            self.pm.register(obj, name=name)
        except BaseException as exc:  # pluggy validation, duplicate names, hostile objects
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.fail(name, dist, "hook", _describe(exc))
            return
        if unknown:
            self.fail(name, dist, "hook", f"implements unknown hook(s) {', '.join(unknown)}")
        self._guard_event_hooks(name, dist)
        for impl in self.pm.hook.segmentkit_register_providers.get_hookimpls():
            if impl.plugin_name != name:
                continue
            register = _Registrar()
            try:
                impl.function(register=register)
            except BaseException as exc:  # sys.exit() in a hook must not end the host
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.fail(name, dist, "register", _describe(exc))
                continue
            for cls in register.classes:
                origin = _Origin(plugin=name, distribution=dist, version=version)
                try:
                    self._accept(cls, origin, builtin=builtin)
                except PluginLoadError:
                    raise
                except BaseException as exc:  # a hostile class attribute or metaclass
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    self.fail(name, dist, "invalid", f"cannot be inspected: {_describe(exc)}")

    def _guard_event_hooks(self, name: str, dist: str | None) -> None:
        """Wrap the plugin's ``segmentkit_event`` so that anything it raises (but
        ``KeyboardInterrupt``) is swallowed, logged and listed once by :meth:`errors`, and the
        other observers still run."""
        for impl in self.pm.hook.segmentkit_event.get_hookimpls():
            if impl.plugin_name == name and not getattr(impl.function, "_segmentkit_guard", False):
                # HookImpl.function is Final to type checkers only; pluggy reads it per call.
                setattr(impl, "function", self._guarded(impl.function, name, dist))  # noqa: B010

    def _guarded(
        self, function: Callable[..., Any], name: str, dist: str | None
    ) -> Callable[..., Any]:
        reported = threading.Event()

        def guard(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                log.warning("segmentkit_event of plugin %r failed: %s", name, _describe(exc))
                if not reported.is_set():
                    reported.set()
                    failure = PluginFailure(
                        name, dist, "hook", f"segmentkit_event: {_describe(exc)}"
                    )
                    with self._errors_lock:
                        self._errors.append(failure)
                return None

        guard._segmentkit_guard = True  # type: ignore[attr-defined]
        return guard

    def _accept(self, cls: Any, origin: _Origin, *, builtin: bool) -> None:
        plugin, dist = origin.plugin, origin.distribution
        problem, kind = _check_declaration(cls)
        if problem:
            self.fail(plugin, dist, kind, problem)
            return
        if not builtin and cls.name in self.reserved:
            self.fail(
                plugin,
                dist,
                "shadowed",
                f"provider name {cls.name!r} belongs to a built-in adapter of segmentkit; "
                "refused (a plugin can never replace a built-in)",
            )
            return
        existing = self._providers.get(cls.name)
        if existing is not None and existing is not cls:
            first = self._origins[cls.name]
            self.fail(
                plugin,
                dist,
                "shadowed",
                f"provider name {cls.name!r} is already registered by plugin {first.plugin!r} "
                f"({first.distribution}); kept the first",
            )
            return
        self._providers[cls.name] = cls
        self._origins[cls.name] = origin


def _check_declaration(cls: Any) -> tuple[str, str]:
    """``(reason, kind)`` why ``cls`` cannot be used as an adapter, or ``("", "")``.

    Every declaration the core reads is checked here, before anything else touches it, so a
    wrong type fails as a refused plugin rather than an ``AttributeError`` in the host.
    """
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        return f"registered {cls!r:.80}, which is not a Provider", "invalid"
    label = cls.__name__
    name = cls.name
    if not isinstance(name, str) or not _NAME.match(name):
        return f"{label}.name {name!r:.60} must match {_NAME.pattern} (a str)", "invalid"
    api = cls.api_version
    if not isinstance(api, str) or not _API_VERSION.match(api):
        return (
            f"{label}.api_version {api!r:.40} must be a version string like "
            f"{CORE_API_VERSION!r}; this segmentkit {__version__} offers {CORE_API_VERSION}. "
            "Upgrade one of them.",
            "version",
        )
    if api.split(".")[0] != CORE_API_VERSION.split(".")[0]:
        return (
            f"{label} targets adapter API {api}; this segmentkit "
            f"{__version__} offers {CORE_API_VERSION}. Upgrade one of them.",
            "version",
        )
    if not isinstance(cls.channel, str) or cls.channel not in ("sms", "email"):
        return f"{label}.channel must be 'sms' or 'email'", "invalid"
    url = cls.default_base_url
    if not isinstance(url, str) or not url:
        return f"{label}.default_base_url is empty or not a str", "invalid"
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc
    except ValueError:
        ok = False
    if not ok:
        return f"{label}.default_base_url must be an http(s)://host/ URL", "invalid"
    if not isinstance(cls.display_name, str):
        return f"{label}.display_name must be a str", "invalid"
    for model in ("Credentials", "Settings"):
        value = getattr(cls, model)
        if not (isinstance(value, type) and issubclass(value, BaseModel)):
            return f"{label}.{model} must be a pydantic BaseModel subclass", "invalid"
    headers = cls.secret_headers
    if not isinstance(headers, (frozenset, set, tuple, list)) or not all(
        isinstance(h, str) for h in headers
    ):
        return f"{label}.secret_headers must be a set of str", "invalid"
    size = cls.max_page_size
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        return f"{label}.max_page_size must be None or a positive int", "invalid"
    window = cls.rate_limit_window
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0
    ):
        return f"{label}.rate_limit_window must be None or a positive number", "invalid"
    if cls.fake is not None and not isinstance(cls.fake, str):
        return f"{label}.fake must be None or a str", "invalid"
    cls.capabilities()  # must not raise (the caller reports it if it does)
    return "", ""


class _Registrar:
    """The ``register`` callback handed to ``segmentkit_register_providers``. Keyword options
    are accepted (and ignored today) so registration can grow without breaking plugins."""

    def __init__(self) -> None:
        self.classes: list[Any] = []

    def __call__(self, cls: Any, **options: Any) -> None:
        self.classes.append(cls)


def _split_env(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {p.strip() for p in value.split(",") if p.strip()}


def create_registry(
    *,
    entry_points: bool = True,
    plugins: Iterable[Any] = (),
    strict: bool = False,
    env: Mapping[str, str] | None = None,
) -> Registry:
    """Build a fresh plugin manager and load adapters into it.

    ``entry_points``: load the ``segmentkit`` entry-point group (honouring
    ``SEGMENTKIT_PLUGINS`` / ``SEGMENTKIT_DISABLE_PLUGINS`` from ``env``). ``plugins``: extra
    plugin objects (modules or instances) to register directly, e.g. in tests. ``strict``:
    raise :class:`PluginLoadError` instead of skipping a broken plugin.
    """
    # pluggy and the hook specifications load here, when the first registry is built (at
    # connect()), not with the client API (issue 14: import time).
    import pluggy

    from . import hookspecs

    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm, strict=strict or env.get("SEGMENTKIT_STRICT_PLUGINS") == "1")
    if entry_points:
        allow = _split_env(env.get("SEGMENTKIT_PLUGINS"))
        deny = _split_env(env.get("SEGMENTKIT_DISABLE_PLUGINS")) or set()
        seen: dict[str, str | None] = {}
        found = list(md.entry_points(group=GROUP))
        registry.reserved = frozenset(BUILTIN_ENTRY_POINTS)
        # Built-ins first, then the rest by name: discovery order cannot decide who owns a
        # built-in name.
        for ep in sorted(found, key=lambda e: (not _is_builtin(e), e.name)):
            dist_name = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else "unknown"
            builtin = _is_builtin(ep)
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            if ep.name in BUILTIN_ENTRY_POINTS and not builtin:
                registry.fail(
                    ep.name,
                    dist_name,
                    "shadowed",
                    f"entry point name {ep.name!r} belongs to a built-in adapter of segmentkit; "
                    "refused without importing it",
                )
                continue
            if ep.name in seen:
                if seen[ep.name] != dist_name:
                    registry.fail(
                        ep.name,
                        dist_name,
                        "shadowed",
                        f"entry point {ep.name!r} is also provided by {seen[ep.name]}; "
                        "kept the first",
                    )
                continue
            seen[ep.name] = dist_name
            try:
                obj = ep.load()
            except BaseException as exc:  # sys.exit() at import must not take the host down
                if isinstance(exc, KeyboardInterrupt):
                    raise
                registry.fail(ep.name, dist_name, "import", _describe(exc))
                continue
            registry.add_plugin(obj, name=ep.name, dist=dist_name, version=version, builtin=builtin)
    for i, obj in enumerate(plugins):
        name = getattr(obj, "__name__", None) or f"{type(obj).__name__}-{i}"
        registry.add_plugin(obj, name=name, dist=None, version=__version__)
    return registry


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry ``connect()`` uses when none is given: entry points, loaded once."""
    return create_registry()
