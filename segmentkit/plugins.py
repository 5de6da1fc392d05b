"""Plugin discovery: adapters are pluggy plugins found through the ``segmentkit`` entry-point
group. Built-in adapters load exactly like third-party ones.

A broken plugin never takes the host down: it is skipped with a :class:`PluginWarning` and
listed by :meth:`Registry.errors` (``strict=True`` raises :class:`PluginLoadError` instead). A
plugin cannot silently take a name another plugin already registered; the first one wins and
the second is reported. ``SEGMENTKIT_PLUGINS`` (comma-separated allow-list of entry-point
names) and ``SEGMENTKIT_DISABLE_PLUGINS`` (deny-list) control what loads.

No module-global plugin manager: :func:`create_registry` builds a fresh one each call.
:func:`default_registry` caches one for ``connect()``; tests pass their own.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from . import hookspecs
from ._version import CORE_API_VERSION, __version__
from .errors import ConfigurationError, PluginLoadError
from .models import Capability, Channel
from .provider import Provider
from .redact import get_logger

__all__ = [
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

    # -- queries

    @property
    def providers(self) -> Mapping[str, type[Provider]]:
        """Provider name → adapter class."""
        return dict(self._providers)

    def errors(self) -> list[PluginFailure]:
        """Plugins that failed to load, and why."""
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
        raise ConfigurationError(
            f"unknown provider {name!r}; installed providers: {known}. "
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
        self._errors.append(failure)
        log.info("segmentkit plugin skipped: %s", failure)
        warnings.warn(f"segmentkit plugin skipped: {failure}", PluginWarning, stacklevel=4)

    def add_plugin(self, obj: Any, *, name: str, dist: str | None, version: str) -> None:
        """Register ``obj`` with the plugin manager and collect the providers it registers."""
        # Checked before registering: pluggy creates a caller for any hookimpl name, so a
        # misspelt hook would look known afterwards.
        unknown = [
            h
            for h in dir(obj)
            if h.startswith("segmentkit_")
            and not (hasattr(self.pm.hook, h) and getattr(self.pm.hook, h).has_spec())
        ]
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # pluggy validation, duplicate names, anything
            self.fail(name, dist, "hook", f"{type(exc).__name__}: {exc}")
            return
        if unknown:
            self.fail(name, dist, "hook", f"implements unknown hook(s) {', '.join(unknown)}")
        for impl in self.pm.hook.segmentkit_register_providers.get_hookimpls():
            if impl.plugin_name != name:
                continue
            register = _Registrar()
            try:
                impl.function(register=register)
            except Exception as exc:
                self.fail(name, dist, "register", f"{type(exc).__name__}: {exc}")
                continue
            for cls in register.classes:
                self._accept(cls, _Origin(plugin=name, distribution=dist, version=version))

    def _accept(self, cls: Any, origin: _Origin) -> None:
        plugin, dist = origin.plugin, origin.distribution
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            self.fail(plugin, dist, "invalid", f"registered {cls!r}, which is not a Provider")
            return
        if not _NAME.match(cls.name or ""):
            self.fail(
                plugin,
                dist,
                "invalid",
                f"{cls.__name__}.name {cls.name!r} must match {_NAME.pattern}",
            )
            return
        if cls.api_version.split(".")[0] != CORE_API_VERSION.split(".")[0]:
            self.fail(
                plugin,
                dist,
                "version",
                f"{cls.__name__} targets adapter API {cls.api_version}; this segmentkit "
                f"{__version__} offers {CORE_API_VERSION}. Upgrade one of them.",
            )
            return
        if cls.channel not in ("sms", "email"):
            self.fail(plugin, dist, "invalid", f"{cls.__name__}.channel must be 'sms' or 'email'")
            return
        if not cls.default_base_url:
            self.fail(plugin, dist, "invalid", f"{cls.__name__}.default_base_url is empty")
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
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm, strict=strict or env.get("SEGMENTKIT_STRICT_PLUGINS") == "1")
    if entry_points:
        allow = _split_env(env.get("SEGMENTKIT_PLUGINS"))
        deny = _split_env(env.get("SEGMENTKIT_DISABLE_PLUGINS")) or set()
        seen: dict[str, str | None] = {}
        for ep in sorted(md.entry_points(group=GROUP), key=lambda e: e.name):
            dist_name = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else "unknown"
            if (allow is not None and ep.name not in allow) or ep.name in deny:
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
            except Exception as exc:  # an import error must not take the host down
                registry.fail(ep.name, dist_name, "import", f"{type(exc).__name__}: {exc}")
                continue
            registry.add_plugin(obj, name=ep.name, dist=dist_name, version=version)
    for i, obj in enumerate(plugins):
        name = getattr(obj, "__name__", None) or f"{type(obj).__name__}-{i}"
        registry.add_plugin(obj, name=name, dist=None, version=__version__)
    return registry


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry ``connect()`` uses when none is given: entry points, loaded once."""
    return create_registry()
