"""Meta-tests that keep the registry honest (datasette's test_plugin_hooks_have_tests style):
every registered provider has a fake and a contract-test subclass; every hook is documented
and exercised."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import segmentkit
from segmentkit import hookspecs
from segmentkit.testing import FakePlatform, fake_class

ROOT = Path(__file__).resolve().parents[2]
TEST_DIRS = [ROOT / "tests", ROOT / "examples"]


def _contract_subclasses() -> dict[str, Path]:
    """provider id → file of a ``ProviderContract`` (or per-topic ``ProviderFixtures``)
    subclass setting ``provider = "<id>"``."""
    found: dict[str, Path] = {}
    for base in TEST_DIRS:
        for path in base.rglob("test_*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                if not any(
                    getattr(b, "id", getattr(b, "attr", ""))
                    in ("ProviderContract", "ProviderFixtures")
                    for b in node.bases
                ):
                    continue
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and any(getattr(t, "id", "") == "provider" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        found[str(stmt.value.value)] = path
    return found


PROVIDERS = [info.name for info in segmentkit.available_providers()]


def test_the_built_in_providers_are_registered():
    assert {"notificator", "allstech", "memory"} <= set(PROVIDERS)
    assert segmentkit.plugin_errors() == []


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_registered_provider_has_a_fake(name):
    cls = fake_class(name)
    assert issubclass(cls, FakePlatform)
    assert cls.provider == name
    for method in ("dsn_for", "bad_dsn", "seed_segment", "member_identities", "segment_ids"):
        assert getattr(cls, method) is not getattr(FakePlatform, method), (
            f"{cls.__name__} must implement the seeding protocol method {method}"
        )


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_registered_provider_has_a_contract_subclass(name):
    assert name in _contract_subclasses(), f"no ProviderContract subclass for {name!r}"


@pytest.mark.parametrize("hook", [n for n in dir(hookspecs) if n.startswith("segmentkit_")])
def test_every_hook_is_documented_and_exercised(hook):
    spec = getattr(hookspecs, hook)
    assert inspect.getdoc(spec), f"{hook} has no docstring"
    docs = (ROOT / "ADDING_PROVIDERS.md").read_text(encoding="utf-8")
    assert hook in docs, f"{hook} missing from ADDING_PROVIDERS.md"
    used = any(
        hook in p.read_text(encoding="utf-8")
        for base in TEST_DIRS
        for p in base.rglob("*.py")
        if p.name != "test_meta.py"
    )
    assert used, f"no test exercises {hook}"


# ---------------------------------------------------------------- structure of the core (issue 11)

PACKAGE = ROOT / "segmentkit"


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
        "TYPE_CHECKING"
    )


def _imports(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """Every module of ``modules`` that ``path`` imports, at any depth (functions included),
    except inside ``if TYPE_CHECKING:``. ``from pkg import name`` counts ``pkg.name`` when that
    is a module, else ``pkg``."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    out.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif target in modules:
                    out.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out.discard(name)
    return out


def _import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    root = package.parent
    paths = sorted(package.rglob("*.py"))
    modules = {_module_name(p, root) for p in paths}
    return {_module_name(p, root): _imports(p, modules, root) for p in paths}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's own __init__ re-exporting its modules is not a cycle back into it.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_segmentkit():
    graph = _import_graph()
    assert "segmentkit.membership.engine" in graph
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


ADAPTER_PACKAGES = [
    ROOT / "segmentkit_notificator",
    ROOT / "segmentkit_allstech",
    ROOT / "examples" / "segmentkit_example" / "segmentkit_example",
]


@pytest.mark.parametrize("package", ADAPTER_PACKAGES, ids=lambda p: p.name)
def test_no_import_cycle_in_an_adapter_package(package):
    graph = _import_graph(package)
    assert f"{package.name}.provider" in graph
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_core_imports_no_adapter():
    """Dependencies point inward only: the core names adapters' fakes by string (``fake =
    "pkg.fake:Class"``), never by import."""
    adapters = {p.name for p in ADAPTER_PACKAGES}
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in adapters]
    assert bad == []


def test_the_graph_sees_function_level_imports():
    graph = _import_graph()
    # plan.read_members imports walk_pages inside a function: still an edge.
    assert "segmentkit.provider" in graph["segmentkit.membership.plan"]


ADAPTERS = [
    ROOT / "segmentkit_notificator",
    ROOT / "segmentkit_allstech",
    ROOT / "examples" / "segmentkit_example" / "segmentkit_example",
    ROOT / "segmentkit" / "testing" / "memory.py",
]


def _adapter_files() -> list[Path]:
    out: list[Path] = []
    for base in ADAPTERS:
        out += [base] if base.is_file() else sorted(base.rglob("*.py"))
    return out


@pytest.mark.parametrize("path", _adapter_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_adapter_module_imports_a_private_segmentkit_name(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_core = path.is_relative_to(PACKAGE)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if in_core and node.level:
                module = "segmentkit." + module  # memory.py: relative imports of the core
            elif not module.startswith("segmentkit") or module.startswith("segmentkit_"):
                continue
            parts = module.split(".")
            bad += [module for p in parts if p.startswith("_") and p != "__future__"]
            bad += [f"{module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            bad += [
                a.name
                for a in node.names
                if a.name.startswith("segmentkit.")
                and any(p.startswith("_") for p in a.name.split("."))
            ]
    assert bad == [], f"{path.name} imports private segmentkit names: {bad}"


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_adapter_declares_exactly_one_membership_shape_or_none(name):
    from segmentkit.adapter.stores import STORE_SHAPES, store_shape
    from segmentkit.membership.engine import legacy_overrides

    cls = segmentkit.default_registry().get(name)
    shapes = [s for s in STORE_SHAPES if issubclass(cls, s)]
    assert len(shapes) <= 1, f"{name} declares {len(shapes)} membership shapes"
    assert store_shape(cls) in (None, *shapes)
    # Built-in adapters never take the deprecated 1.0 path (it warns).
    assert not legacy_overrides(cls), f"{name} overrides add/remove_recipients itself"


def test_the_shape_check_covers_the_built_ins_and_the_example():
    from segmentkit.adapter.stores import BatchStore, MemberSetStore, PerMemberStore, store_shape

    registry = segmentkit.default_registry()
    assert {"notificator", "allstech", "memory", "example"} <= set(PROVIDERS)
    assert store_shape(registry.get("notificator")) is MemberSetStore
    assert store_shape(registry.get("allstech")) is PerMemberStore
    assert store_shape(registry.get("example")) is PerMemberStore
    assert store_shape(registry.get("memory")) is BatchStore


def test_store_shape_refuses_two_shapes():
    from segmentkit.adapter.stores import BatchStore, PerMemberStore, store_shape

    class Both(PerMemberStore, BatchStore):
        pass

    with pytest.raises(TypeError):
        store_shape(Both)


# ---------------------------------------------------------------- adapters leave timing to the core

#: Fakes are test doubles (they keep clocks and locks); adapters are everything else.
_FAKES = ("fake.py", "memory_fake.py")
_FORBIDDEN_MODULES = ("threading", "concurrent", "concurrent.futures", "multiprocessing")
_FORBIDDEN_ATTRS = frozenset({"schedule_retry", "retry_policy", "rng", "retry_delay", "sleep"})


def _adapter_modules() -> list[Path]:
    return [p for p in _adapter_files() if p.name not in _FAKES and "fake" not in p.parent.parts]


def _timing_violations(tree: ast.AST) -> list[str]:
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name.split(".")[0] in _FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in _FORBIDDEN_MODULES:
                bad.append(module)
            if module == "time" and any(a.name == "sleep" for a in node.names):
                bad.append("time.sleep")
        elif isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRS:
            bad.append(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id in _FORBIDDEN_ATTRS:
            bad.append(node.id)
    return bad


@pytest.mark.parametrize("path", _adapter_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_adapter_module_sleeps_threads_or_retries_by_itself(path):
    """Issue 11: concurrency, waiting and retrying belong to the core (the session and the
    membership engine); an adapter declares and calls ``self.http``."""
    bad = _timing_violations(ast.parse(path.read_text(encoding="utf-8")))
    assert bad == [], f"{path.name} does timing work of its own: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import threading",
        "from concurrent.futures import ThreadPoolExecutor",
        "import time\ntime.sleep(1)",
        "from time import sleep",
        "self.schedule_retry('GET', u, 1, 0.1, e)",
        "self.transport.retry_policy.delay(1)",
        "self.http.rng.random()",
    ],
)
def test_the_timing_check_catches(source):
    assert _timing_violations(ast.parse(source))


def test_the_timing_check_covers_the_built_ins_and_the_example():
    names = {str(p.relative_to(ROOT)) for p in _adapter_modules()}
    assert "segmentkit_allstech/provider.py" in names
    assert "segmentkit_notificator/provider.py" in names
    assert "examples/segmentkit_example/segmentkit_example/provider.py" in names
    assert "segmentkit/testing/memory.py" in names
    assert not any("fake" in n for n in names)


def test_provider_lives_in_the_adapter_package():
    from segmentkit import adapter, provider
    from segmentkit.adapter import base

    assert adapter.Provider is base.Provider is provider.Provider
    assert segmentkit.Provider is base.Provider


# ---------------------------------------------------------------- adapters use the adapter API only

#: The core objects an adapter holds (``self``, ``self.http``): their private names are the
#: core's, whatever the adapter's own helpers are called.
_CORE_OBJECTS = [
    PACKAGE / "adapter" / "base.py",
    PACKAGE / "adapter" / "stores.py",
    PACKAGE / "http" / "session.py",
    PACKAGE / "http" / "transport.py",
]


def _core_private_names() -> frozenset[str]:
    names: set[str] = set()
    for path in _CORE_OBJECTS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


#: Reached only through the core: the one-attempt transport, the decoder and the redactor
#: (adapters call ``self.http`` and the helpers ``Provider``'s docstring lists).
_CORE_INTERNALS = frozenset({"transport", "decoder", "redactor"})


def _private_core_uses(tree: ast.AST, private: frozenset[str]) -> list[str]:
    # A name the module defines itself (a method, ``self._x = ...``) is its own, not the core's.
    own = {
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)
    } | {
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }
    private = private - own
    return [
        f".{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (node.attr in private or node.attr in _CORE_INTERNALS)
    ]


@pytest.mark.parametrize("path", _adapter_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_adapter_module_touches_private_parts_of_the_core(path):
    """Issue 11: the adapter API is ``self.http`` plus the documented helpers; ``self._excerpt``
    or ``self.transport.*`` bind an adapter to the core's insides."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = _private_core_uses(tree, _core_private_names())
    assert bad == [], f"{path.name} reaches into the core: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "self._excerpt(body)",
        "self.http._auth = None",
        "self.transport.emit(event)",
        "self._headers_cache",
        "self.decoder.complete(e, r, b)",
    ],
)
def test_the_private_parts_check_catches(source):
    assert _private_core_uses(ast.parse(source), _core_private_names())


def test_the_private_parts_check_lets_the_adapter_api_and_own_helpers_through():
    source = (
        "self.http.get('x'); self.parse(M, b, what='x'); self.page_fetched('r', 1, 2, 3)\n"
        "class P:\n"
        "    def _read(self): return self._lock\n"
        "    def __init__(self): self._lock = 1\n"
    )
    assert "_read" in _core_private_names()
    assert _private_core_uses(ast.parse(source), _core_private_names()) == []
