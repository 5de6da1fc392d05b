"""Plugins cannot take the host down or take a built-in's name (issue 12 §5).

Each test installs a real distribution (``*.dist-info`` with ``entry_points.txt``) in a
temporary directory on ``sys.path`` and drives only the public API: ``create_registry``,
``available_providers``, ``plugin_errors`` and ``connect`` (against a loopback server).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import segmentkit
from segmentkit import PluginWarning, create_registry

from ._secret_servers import Seen, json_answer, serve

pytestmark = pytest.mark.timeout(60)

KEY = "PluginUserKey0123456789"

PROVIDER = """
import sys
from pydantic import BaseModel, SecretStr
from segmentkit import Page, Provider, Segment, SegmentKind
from segmentkit.hookspecs import hookimpl

RECEIVED = []


class HostileProvider(Provider):
    name = "{name}"
    display_name = "Hostile"
    channel = "sms"
    default_base_url = "https://hostile.invalid/api/"

    class Credentials(BaseModel):
        api_key: SecretStr

    def __init__(self, credentials, *args, **kwargs):
        RECEIVED.append(credentials.api_key.get_secret_value())
        super().__init__(credentials, *args, **kwargs)

    def auth_headers(self):
        return {{"Authorization": "Bearer " + self.secret("api_key")}}

    def list_segments(self, query, page):
        return Page(items=[])

    def get_segment(self, segment_id):
        return Segment(id=segment_id, provider=self.name, name="x", kind=SegmentKind.static)

{extra}

@hookimpl
def segmentkit_register_providers(register):
    register(HostileProvider)
"""


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``install(dist, module, entry_points, source)`` puts a real distribution on sys.path."""
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


def _registry(*names: str) -> segmentkit.Registry:
    return create_registry(env={"SEGMENTKIT_PLUGINS": ",".join(names)})


# ----------------------------------------------------------------------------- BaseException


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("import sys\nsys.exit()", "SystemExit"),
        ("import sys\nsys.exit(3)", "SystemExit"),
        ("raise SystemExit('bye')", "SystemExit"),
        ("class Boom(BaseException):\n    pass\nraise Boom('custom')", "Boom"),
        ("raise GeneratorExit()", "GeneratorExit"),
        ("raise ImportError('missing dep')", "ImportError"),
        ("import this_module_does_not_exist_anywhere", "ModuleNotFoundError"),
        ("raise RecursionError()", "RecursionError"),
    ],
)
def test_any_base_exception_at_import_is_isolated_and_listed(install, code, words) -> None:
    install("sk-hostile-imp", "sk_hostile_imp", {"hostimp": "sk_hostile_imp"}, code)
    with pytest.warns(PluginWarning, match=words):
        registry = _registry("hostimp", "notificator")
    assert "notificator" in {p.name for p in segmentkit.available_providers(registry)}
    (failure,) = segmentkit.plugin_errors(registry)
    assert (failure.plugin, failure.distribution, failure.kind) == (
        "hostimp",
        "sk-hostile-imp",
        "import",
    )
    assert words in failure.reason


def test_keyboard_interrupt_at_import_is_not_swallowed(install) -> None:
    install(
        "sk-hostile-kbd", "sk_hostile_kbd", {"hostkbd": "sk_hostile_kbd"}, "raise KeyboardInterrupt"
    )
    with pytest.raises(KeyboardInterrupt):
        _registry("hostkbd")


def test_system_exit_in_the_register_hook_is_isolated(install) -> None:
    source = """
    import sys
    from segmentkit.hookspecs import hookimpl

    @hookimpl
    def segmentkit_register_providers(register):
        sys.exit("leaving")
    """
    install("sk-hostile-reg", "sk_hostile_reg", {"hostreg": "sk_hostile_reg"}, source)
    with pytest.warns(PluginWarning, match="SystemExit"):
        registry = _registry("hostreg", "notificator")
    assert [(f.plugin, f.kind) for f in segmentkit.plugin_errors(registry)] == [
        ("hostreg", "register")
    ]
    assert "notificator" in registry.providers


def test_exception_with_hostile_str_is_still_isolated(install) -> None:
    source = """
    class Nasty(BaseException):
        def __str__(self):
            raise SystemExit("from __str__")

    raise Nasty()
    """
    install("sk-hostile-str", "sk_hostile_str", {"hoststr": "sk_hostile_str"}, source)
    with pytest.warns(PluginWarning, match="Nasty"):
        registry = _registry("hoststr")
    assert segmentkit.plugin_errors(registry)[0].kind == "import"


def _ok(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    return json_answer(200, '{"data": [], "meta": {"pagination": {"total_pages": 1}}}')


@pytest.mark.parametrize("raise_", ["sys.exit(1)", "raise SystemExit", "raise RuntimeError('x')"])
def test_event_hook_raising_anything_never_breaks_the_operation(install, raise_) -> None:
    source = f"""
    import sys
    from segmentkit.hookspecs import hookimpl

    CALLS = []

    @hookimpl
    def segmentkit_event(event):
        CALLS.append(type(event).__name__)
        {raise_}
    """
    install("sk-hostile-evt", "sk_hostile_evt", {"hostevt": "sk_hostile_evt"}, source)
    registry = _registry("hostevt", "notificator")
    seen_events: list[object] = []
    with serve(_ok) as srv:
        client = segmentkit.connect(
            "notificator",
            api_key=KEY,
            base_url=f"{srv.base}/api/",
            registry=registry,
            on_event=seen_events.append,
        )
        with client:
            assert list(client.segments.list()) == []
        assert len(srv.seen) == 1
    assert sys.modules["sk_hostile_evt"].CALLS, "the hook was called"
    assert seen_events, "the other observer kept receiving events"
    failures = segmentkit.plugin_errors(registry)
    assert [(f.plugin, f.kind) for f in failures] == [("hostevt", "hook")]
    assert "segmentkit_event" in failures[0].reason


# ----------------------------------------------------------------------------- declarations

BAD_DECLARATIONS = {
    "api_version_int": ("api_version = 2", "version"),
    "api_version_none": ("api_version = None", "version"),
    "api_version_word": ('api_version = "x"', "version"),
    "api_version_empty": ('api_version = ""', "version"),
    "api_version_major": ('api_version = "2.0"', "version"),
    "name_int": ("name = 123", "invalid"),
    "name_none": ("name = None", "invalid"),
    "name_upper": ('name = "Hostile"', "invalid"),
    "channel_fax": ('channel = "fax"', "invalid"),
    "channel_none": ("channel = None", "invalid"),
    "url_int": ("default_base_url = 123", "invalid"),
    "url_ftp": ('default_base_url = "ftp://files.example/"', "invalid"),
    "url_word": ('default_base_url = "not a url"', "invalid"),
    "url_userinfo": ('default_base_url = "https://u:p@h.example/"', "invalid"),
    "credentials_missing": ("Credentials = None", "invalid"),
    "credentials_dict": ("Credentials = dict", "invalid"),
    "settings_str": ('Settings = "x"', "invalid"),
    "display_name_int": ("display_name = 5", "invalid"),
    "secret_headers_str": ('secret_headers = "Authorization"', "invalid"),
    "page_size_zero": ("max_page_size = 0", "invalid"),
    "page_size_str": ('max_page_size = "100"', "invalid"),
    "window_negative": ("rate_limit_window = -1", "invalid"),
}


@pytest.mark.parametrize("case", sorted(BAD_DECLARATIONS))
def test_every_bad_declaration_is_refused_with_a_reason(install, case) -> None:
    line, kind = BAD_DECLARATIONS[case]
    extra = f"HostileProvider.{line.split(' = ')[0]} = {line.split(' = ', 1)[1]}"
    source = PROVIDER.format(name="hostdecl", extra=extra)
    module = f"sk_hostile_decl_{case}"
    install(f"sk-hostile-decl-{case}", module, {"hostdecl": module}, source)
    with pytest.warns(PluginWarning):
        registry = _registry("hostdecl")
    assert segmentkit.available_providers(registry) == []
    (failure,) = segmentkit.plugin_errors(registry)
    assert failure.kind == kind
    attribute = line.split(" = ")[0]
    assert attribute in failure.reason or kind == "version", failure.reason


def test_hostile_class_attribute_is_refused_not_raised(install) -> None:
    extra = """
class _Meta(type(HostileProvider)):
    def __getattribute__(cls, name):
        if name == "channel":
            raise SystemExit("from a metaclass")
        return super().__getattribute__(name)


HostileProvider = _Meta("HostileProvider", (HostileProvider,), {})
"""
    source = PROVIDER.format(name="hostmeta", extra=extra)
    install("sk-hostile-meta", "sk_hostile_meta", {"hostmeta": "sk_hostile_meta"}, source)
    with pytest.warns(PluginWarning, match="SystemExit"):
        registry = _registry("hostmeta")
    assert [f.kind for f in segmentkit.plugin_errors(registry)] == ["invalid"]


def test_valid_third_party_plugin_still_loads(install) -> None:
    source = PROVIDER.format(name="hostfine", extra="")
    install("sk-fine", "sk_fine", {"hostfine": "sk_fine"}, source)
    registry = _registry("hostfine")
    assert [p.name for p in segmentkit.available_providers(registry)] == ["hostfine"]
    assert segmentkit.plugin_errors(registry) == []


# ----------------------------------------------------------------------------- built-in names


def _connect_notificator(registry: segmentkit.Registry) -> list[Seen]:
    with serve(_ok) as srv:
        client = segmentkit.connect(
            "notificator", api_key=KEY, base_url=f"{srv.base}/api/", registry=registry
        )
        with client:
            list(client.segments.list())
        return list(srv.seen)


def test_plugin_sorting_first_cannot_register_a_builtin_name(install) -> None:
    source = PROVIDER.format(name="notificator", extra="")
    install("aaa-helpers", "aaa_helpers", {"aaa_helpers": "aaa_helpers"}, source)
    with pytest.warns(PluginWarning, match="built-in"):
        registry = _registry("aaa_helpers", "notificator")
    infos = {p.name: p for p in segmentkit.available_providers(registry)}
    assert infos["notificator"].distribution == "segmentkit"
    assert infos["notificator"].plugin == "notificator"
    (failure,) = segmentkit.plugin_errors(registry)
    assert (failure.plugin, failure.distribution, failure.kind) == (
        "aaa_helpers",
        "aaa-helpers",
        "shadowed",
    )
    seen = _connect_notificator(registry)
    assert [s.headers["Authorization"] for s in seen] == [f"Bearer {KEY}"]
    assert sys.modules["aaa_helpers"].RECEIVED == [], "the hostile plugin never saw the key"


def test_builtin_name_is_kept_even_when_the_builtin_is_not_loaded(install) -> None:
    source = PROVIDER.format(name="notificator", extra="")
    install("aaa-helpers2", "aaa_helpers2", {"aaa_helpers2": "aaa_helpers2"}, source)
    with pytest.warns(PluginWarning, match="built-in"):
        registry = _registry("aaa_helpers2")  # the built-in notificator is not allowed here
    assert "notificator" not in registry.providers
    with pytest.raises(segmentkit.ConfigurationError):
        segmentkit.connect("notificator", api_key=KEY, registry=registry)
    assert sys.modules["aaa_helpers2"].RECEIVED == []


@pytest.mark.parametrize("name", ["notificator", "allstech", "memory"])
def test_distribution_declaring_a_builtin_entry_point_name_is_never_imported(install, name) -> None:
    module = f"sk_squat_{name}"
    source = "IMPORTED = True\n" + PROVIDER.format(name=name, extra="")
    install(f"sk-squat-{name}", module, {name: module}, source)
    with pytest.warns(PluginWarning, match="built-in"):
        registry = _registry(name)
    assert module not in sys.modules, "the squatting plugin's code never ran"
    infos = {p.name: p for p in segmentkit.available_providers(registry)}
    assert infos[name].distribution == "segmentkit"
    (failure,) = segmentkit.plugin_errors(registry)
    assert (failure.plugin, failure.distribution, failure.kind) == (
        name,
        f"sk-squat-{name}",
        "shadowed",
    )
    if name == "notificator":
        seen = _connect_notificator(registry)
        assert [s.headers["Authorization"] for s in seen] == [f"Bearer {KEY}"]


def test_builtin_entry_points_match_the_distribution_metadata() -> None:
    import importlib.metadata as md

    from segmentkit.plugins import BUILTIN_ENTRY_POINTS

    declared = {
        ep.name: ep.value
        for ep in md.distribution("segmentkit").entry_points
        if ep.group == "segmentkit"
    }
    assert declared == dict(BUILTIN_ENTRY_POINTS)
