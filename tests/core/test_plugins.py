"""Plugin discovery and isolation, with a fresh plugin manager per test.

Entry-point discovery is tested for real: each test writes a module and a ``*.dist-info``
directory to a temporary directory on ``sys.path``.
"""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

import segmentkit
import segmentkit.testing.memory
from segmentkit import (
    Capability,
    ConfigurationError,
    Page,
    PluginFailure,
    PluginLoadError,
    PluginWarning,
    Provider,
    ProviderInfo,
    Segment,
    SegmentKind,
    UnsupportedOperationError,
    connect,
    create_registry,
)
from segmentkit.hookspecs import hookimpl

PROVIDER_SOURCE = '''
from segmentkit import Page, Provider, Segment, SegmentKind
from segmentkit.hookspecs import hookimpl


class TmpProvider(Provider):
    """A tiny adapter installed from a temporary distribution."""

    name = "{name}"
    display_name = "Temporary"
    channel = "sms"
    default_base_url = "https://tmp.invalid/api/"
    api_version = "{api_version}"

    def auth_headers(self):
        return {{}}

    def list_segments(self, query, page):
        return Page(items=[])

    def get_segment(self, segment_id):
        return Segment(id=segment_id, provider=self.name, name="x", kind=SegmentKind.static)


@hookimpl
def segmentkit_register_providers(register):
    register(TmpProvider)
'''


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``install(dist, module, entry_points, source)`` puts a distribution on ``sys.path``."""
    modules: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist: str, module: str, entry_points: dict[str, str], source: str) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[segmentkit]\n{lines}")
        modules.append(module)

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def _provider_source(name: str = "tmpprov", api_version: str = "1.0") -> str:
    return PROVIDER_SOURCE.format(name=name, api_version=api_version)


# ----------------------------------------------------------------------------- discovery


def test_entry_point_distribution_is_discovered(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    registry = create_registry(env={"SEGMENTKIT_PLUGINS": "tmpprov"})
    assert set(registry.providers) == {"tmpprov"}
    (info,) = segmentkit.available_providers(registry)
    assert info == ProviderInfo(
        name="tmpprov",
        display_name="Temporary",
        channel="sms",
        version="1.0",
        capabilities=frozenset({Capability.list_segments, Capability.get_segment}),
        api_version="1.0",
        plugin="tmpprov",
        distribution="sk-tmp-plugin",
    )
    assert segmentkit.plugin_errors(registry) == []


@pytest.mark.filterwarnings("ignore::segmentkit.plugins.PluginWarning")
def test_entry_point_distribution_is_discovered_beside_installed_ones(install):
    """With an empty environment every entry point loads (warnings would come only from the
    adapters being written concurrently)."""
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    registry = create_registry(env={})
    assert {"tmpprov", "memory"} <= set(registry.providers)
    assert registry.providers["memory"] is segmentkit.testing.memory.MemoryProvider
    info = {i.name: i for i in registry.infos()}
    assert info["tmpprov"].distribution == "sk-tmp-plugin"
    assert info["memory"].distribution == "segmentkit"


def test_discovered_provider_is_usable_through_connect(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    registry = create_registry(env={"SEGMENTKIT_PLUGINS": "tmpprov"})
    with connect("tmpprov", registry=registry, env={}) as client:
        assert client.segments.get(5).id == "5"
        assert client.base_url == "https://tmp.invalid/api/"


# ----------------------------------------------------------------------------- isolation

BROKEN_SOURCE = "raise RuntimeError('this plugin is broken on purpose')\n"


def test_plugin_failing_to_import_is_skipped_with_warning(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    install("sk-broken", "sk_broken_plugin", {"broken": "sk_broken_plugin"}, BROKEN_SOURCE)
    env = {"SEGMENTKIT_PLUGINS": "broken,tmpprov,memory"}
    with pytest.warns(PluginWarning, match="broken"):
        registry = create_registry(env=env)
    assert set(registry.providers) == {"tmpprov", "memory"}
    (failure,) = registry.errors()
    assert failure.plugin == "broken"
    assert failure.distribution == "sk-broken"
    assert failure.kind == "import"
    assert "RuntimeError" in failure.reason
    assert "broken on purpose" in failure.reason
    assert segmentkit.plugin_errors(registry) == [failure]
    assert str(failure).startswith("broken (sk-broken): import: ")


def test_connect_to_a_provider_that_failed_to_load_says_why(install):
    install("sk-broken", "sk_broken_plugin", {"broken": "sk_broken_plugin"}, BROKEN_SOURCE)
    with pytest.warns(PluginWarning):
        registry = create_registry(env={"SEGMENTKIT_PLUGINS": "broken"})
    with pytest.raises(ConfigurationError, match=r"installed but failed to load.*on purpose"):
        connect("broken", registry=registry, env={})


def test_strict_registry_raises_on_import_failure(install):
    install("sk-broken", "sk_broken_plugin", {"broken": "sk_broken_plugin"}, BROKEN_SOURCE)
    with pytest.raises(PluginLoadError, match=r"broken.*import"):
        create_registry(strict=True, env={"SEGMENTKIT_PLUGINS": "broken"})


def test_strict_mode_from_environment(install):
    install("sk-broken", "sk_broken_plugin", {"broken": "sk_broken_plugin"}, BROKEN_SOURCE)
    env = {"SEGMENTKIT_PLUGINS": "broken", "SEGMENTKIT_STRICT_PLUGINS": "1"}
    with pytest.raises(PluginLoadError):
        create_registry(env=env)


def test_entry_point_name_provided_by_two_distributions_keeps_the_first(install):
    install("sk-tmp-a", "sk_tmp_a", {"tmpprov": "sk_tmp_a"}, _provider_source())
    install("sk-tmp-b", "sk_tmp_b", {"tmpprov": "sk_tmp_b"}, _provider_source())
    with pytest.warns(PluginWarning, match="shadowed"):
        registry = create_registry(env={"SEGMENTKIT_PLUGINS": "tmpprov"})
    assert set(registry.providers) == {"tmpprov"}
    (failure,) = registry.errors()
    assert failure.kind == "shadowed"
    kept = registry.infos()[0].distribution
    assert {kept, failure.distribution} == {"sk-tmp-a", "sk-tmp-b"}


# ----------------------------------------------------------------------------- allow / deny


def test_allow_list_loads_only_the_named_plugins(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    registry = create_registry(env={"SEGMENTKIT_PLUGINS": " memory , "})
    assert set(registry.providers) == {"memory"}


def test_deny_list_wins_over_allow_list(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"}, _provider_source())
    env = {"SEGMENTKIT_PLUGINS": "memory,tmpprov", "SEGMENTKIT_DISABLE_PLUGINS": "tmpprov"}
    assert set(create_registry(env=env).providers) == {"memory"}


def test_deny_list_keeps_a_broken_plugin_from_loading(install):
    install("sk-broken", "sk_broken_plugin", {"broken": "sk_broken_plugin"}, BROKEN_SOURCE)
    env = {"SEGMENTKIT_PLUGINS": "broken,memory", "SEGMENTKIT_DISABLE_PLUGINS": "broken"}
    registry = create_registry(env=env)
    assert set(registry.providers) == {"memory"}
    assert registry.errors() == []
    assert "sk_broken_plugin" not in sys.modules


def test_no_entry_points_gives_an_empty_registry():
    registry = create_registry(entry_points=False, env={})
    assert registry.providers == {}
    assert segmentkit.available_providers(registry) == []


def test_each_registry_has_its_own_plugin_manager():
    a = create_registry(entry_points=False, plugins=[segmentkit.testing.memory], env={})
    b = create_registry(entry_points=False, env={})
    assert a.pm is not b.pm
    assert "memory" in a.providers
    assert "memory" not in b.providers


# ----------------------------------------------------------------------------- registration


def _plugin(name: str, register_body: Callable[[Any], None]) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def segmentkit_register_providers(register):
        register_body(register)

    module.segmentkit_register_providers = segmentkit_register_providers  # type: ignore[attr-defined]
    return module


def _provider(name: str = "acme", **attrs: Any) -> type[Provider]:
    body: dict[str, Any] = {
        "name": name,
        "display_name": name.title(),
        "channel": "sms",
        "default_base_url": f"https://{name}.invalid/",
        "auth_headers": lambda self: {},
        **attrs,
    }
    return type(f"{name.title()}Provider", (Provider,), body)


def test_registering_through_plugins_argument_records_origin():
    cls = _provider()
    registry = create_registry(
        entry_points=False, plugins=[_plugin("acme_plugin", lambda r: r(cls))]
    )
    assert registry.get("acme") is cls
    (info,) = registry.infos()
    assert (info.plugin, info.distribution, info.version) == (
        "acme_plugin",
        None,
        segmentkit.__version__,
    )


def test_register_accepts_keyword_options_for_forward_compatibility():
    cls = _provider()
    plugin = _plugin("p", lambda r: r(cls, aliases=["a"], future=True))
    assert create_registry(entry_points=False, plugins=[plugin]).get("acme") is cls


def test_register_hook_that_raises_is_reported_as_register():
    def explode(register):
        raise ValueError("cannot register today")

    with pytest.warns(PluginWarning, match="cannot register today"):
        registry = create_registry(
            entry_points=False, plugins=[_plugin("bad", explode), segmentkit.testing.memory]
        )
    assert [(e.plugin, e.kind) for e in registry.errors()] == [("bad", "register")]
    assert set(registry.providers) == {"memory"}


@pytest.mark.parametrize(
    ("registered", "words"),
    [
        (object, "not a Provider"),
        ("acme", "not a Provider"),
        (_provider("Bad-Name"), "must match"),
        (_provider(""), "must match"),
        (_provider("fax", channel="fax"), "channel"),
        (_provider("nourl", default_base_url=""), "default_base_url"),
    ],
    ids=["object", "string", "bad-name", "empty-name", "bad-channel", "no-url"],
)
def test_registering_an_invalid_class_is_reported_as_invalid(registered, words):
    with pytest.warns(PluginWarning):
        registry = create_registry(
            entry_points=False, plugins=[_plugin("p", lambda r: r(registered))]
        )
    (failure,) = registry.errors()
    assert failure.kind == "invalid"
    assert words in failure.reason
    assert registry.providers == {}


def test_registering_an_invalid_class_in_strict_mode_raises():
    with pytest.raises(PluginLoadError, match="invalid"):
        create_registry(entry_points=False, strict=True, plugins=[_plugin("p", lambda r: r(42))])


def test_second_plugin_registering_the_same_name_is_shadowed():
    first, second = _provider("acme"), _provider("acme")
    with pytest.warns(PluginWarning, match="already registered"):
        registry = create_registry(
            entry_points=False,
            plugins=[_plugin("one", lambda r: r(first)), _plugin("two", lambda r: r(second))],
        )
    assert registry.get("acme") is first
    (failure,) = registry.errors()
    assert (failure.plugin, failure.kind) == ("two", "shadowed")
    assert "'one'" in failure.reason


def test_same_class_registered_twice_is_not_a_conflict():
    cls = _provider()
    registry = create_registry(
        entry_points=False, plugins=[_plugin("p", lambda r: (r(cls), r(cls)))]
    )
    assert registry.errors() == []
    assert registry.get("acme") is cls


@pytest.mark.parametrize("api_version", ["2.0", "0.9", "10"])
def test_incompatible_api_major_version_is_reported_as_version(api_version):
    cls = _provider(api_version=api_version)
    with pytest.warns(PluginWarning, match="Upgrade"):
        registry = create_registry(entry_points=False, plugins=[_plugin("p", lambda r: r(cls))])
    (failure,) = registry.errors()
    assert failure.kind == "version"
    assert api_version in failure.reason
    assert registry.providers == {}


def test_compatible_api_minor_version_is_accepted():
    cls = _provider(api_version="1.7")
    registry = create_registry(entry_points=False, plugins=[_plugin("p", lambda r: r(cls))])
    assert registry.get("acme") is cls


def test_entry_point_with_incompatible_api_version_is_reported(install):
    install("sk-tmp-plugin", "sk_tmp_plugin", {"tmpprov": "sk_tmp_plugin"},
            _provider_source(api_version="2.0"))  # fmt: skip
    with pytest.warns(PluginWarning):
        registry = create_registry(env={"SEGMENTKIT_PLUGINS": "tmpprov"})
    assert [(e.plugin, e.distribution, e.kind) for e in registry.errors()] == [
        ("tmpprov", "sk-tmp-plugin", "version")
    ]


def test_hookimpl_with_wrong_signature_is_reported_as_hook():
    module = types.ModuleType("wrongsig")

    @hookimpl
    def segmentkit_register_providers(reg, extra):
        pass

    module.segmentkit_register_providers = segmentkit_register_providers  # type: ignore[attr-defined]
    with pytest.warns(PluginWarning):
        registry = create_registry(entry_points=False, plugins=[module])
    assert [e.kind for e in registry.errors()] == ["hook"]


def test_undecorated_function_named_like_a_hook_is_reported_as_hook():
    module = types.ModuleType("typo")

    def segmentkit_register_provider(register):
        pass

    module.segmentkit_register_provider = segmentkit_register_provider  # type: ignore[attr-defined]
    with pytest.warns(PluginWarning, match="unknown hook"):
        registry = create_registry(entry_points=False, plugins=[module])
    assert [e.kind for e in registry.errors()] == ["hook"]


def test_decorated_hookimpl_for_an_unknown_hook_is_reported_as_hook():
    module = types.ModuleType("typo_decorated")

    @hookimpl
    def segmentkit_register_provider(register):  # note: missing "s"
        pass

    module.segmentkit_register_provider = segmentkit_register_provider  # type: ignore[attr-defined]
    with pytest.warns(PluginWarning, match="unknown hook"):
        registry = create_registry(entry_points=False, plugins=[module])
    assert [e.kind for e in registry.errors()] == ["hook"]


def test_plugin_failure_str_without_distribution():
    failure = PluginFailure(plugin="p", distribution=None, kind="import", reason="boom")
    assert str(failure) == "p: import: boom"


# ----------------------------------------------------------------------------- capabilities


class ReadOnlyProvider(Provider):
    name = "readonly"
    display_name = "Read only"
    channel = "sms"
    default_base_url = "https://readonly.invalid/api/"

    def auth_headers(self):
        return {}

    def list_segments(self, query, page):
        return Page(items=[])

    def get_segment(self, segment_id):
        body = self.request("GET", f"segments/{segment_id}")
        return Segment(
            id=segment_id, provider=self.name, name=body["name"], kind=SegmentKind.static
        )


def test_capabilities_are_derived_from_overrides():
    assert ReadOnlyProvider.capabilities() == {Capability.list_segments, Capability.get_segment}
    assert Provider.capabilities() == frozenset()
    assert segmentkit.testing.memory.MemoryProvider.capabilities() == set(Capability)


def test_capabilities_of_a_subclass_include_inherited_overrides():
    class Child(ReadOnlyProvider):
        def delete_segment(self, segment_id):
            return None

    assert Child.capabilities() == {
        Capability.list_segments,
        Capability.get_segment,
        Capability.delete_segment,
    }


@pytest.fixture
def readonly_client():
    plugin = _plugin("readonly_plugin", lambda r: r(ReadOnlyProvider))
    registry = create_registry(entry_points=False, plugins=[plugin], env={})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("https://readonly.invalid/api/segments/1", json={"name": "one"})
        with connect("readonly", registry=registry, env={}) as client:
            yield client


UNSUPPORTED_CALLS = {
    "create": lambda c: c.segments.create("x", recipients=["+393331234567"]),
    "update": lambda c: c.segments.update("1", name="y"),
    "delete": lambda c: c.segments.delete("1"),
    "list_recipients": lambda c: c.recipients.list("1"),
    "add": lambda c: c.recipients.add("1", ["+393331234567"]),
    "remove": lambda c: c.recipients.remove("1", ["+393331234567"]),
}


@pytest.mark.parametrize("call", UNSUPPORTED_CALLS.values(), ids=UNSUPPORTED_CALLS.keys())
def test_unsupported_operation_raises_before_any_request(readonly_client, call):
    with pytest.raises(UnsupportedOperationError) as info:
        call(readonly_client)
    assert info.value.provider == "readonly"
    assert "not supported" in str(info.value)
    assert readonly_client.stats.requests == 0


def test_supported_operation_through_the_same_client_works(readonly_client):
    assert readonly_client.segments.get("1").name == "one"
    assert readonly_client.stats.requests == 1


def test_unsupported_create_hints_at_the_web_app(readonly_client):
    with pytest.raises(UnsupportedOperationError, match="web app"):
        readonly_client.segments.create("x")


def test_unsupported_sync_raises_before_any_request(readonly_client):
    with pytest.raises(UnsupportedOperationError):
        readonly_client.recipients.sync("1", ["+393331234567"])
    assert readonly_client.stats.requests == 0
