"""Meta-tests on the public surface: ``__all__`` matches the public names, everything public
is documented, every hook is documented, and the packages ship ``py.typed``."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

import segmentkit
import segmentkit.testing
from segmentkit import hookspecs

ROOT = Path(segmentkit.__file__).resolve().parents[1]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a module defines or imports, without submodules and ``annotations``."""
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and name != "annotations"
        and not isinstance(getattr(module, name), types.ModuleType)
    }


def _assert_all_matches(module: types.ModuleType) -> None:
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    assert {n for n in exported if not n.startswith("_")} == _public_names(module)
    for name in exported:
        assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"


def test_segmentkit_all_matches_public_names():
    _assert_all_matches(segmentkit)
    assert "__version__" in segmentkit.__all__


def test_segmentkit_testing_all_matches_public_names():
    _assert_all_matches(segmentkit.testing)


@pytest.mark.parametrize("package", ["segmentkit_notificator", "segmentkit_allstech"])
def test_adapter_package_all_matches_public_names(package):
    module = importlib.import_module(package)
    if not hasattr(module, "__all__"):
        pytest.fail(f"{package} defines no __all__")
    _assert_all_matches(module)


CORE_MODULES = [
    "segmentkit.client",
    "segmentkit.config",
    "segmentkit.errors",
    "segmentkit.events",
    "segmentkit.hookspecs",
    "segmentkit.models",
    "segmentkit.plugins",
    "segmentkit.provider",
    "segmentkit.redact",
    "segmentkit.sync",
    "segmentkit.transport",
]


@pytest.mark.parametrize("name", CORE_MODULES)
def test_core_module_all_names_exist_and_module_is_documented(name):
    module = importlib.import_module(name)
    assert inspect.getdoc(module)
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names missing {exported}"


def _own_doc(obj: object) -> str:
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    if not doc:
        return ""
    # dataclasses invent "Name(field: type, ...)" when the class has no docstring
    if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc.strip()


def _documentable():
    for name in segmentkit.__all__:
        obj = getattr(segmentkit, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name


@pytest.mark.parametrize("name", list(_documentable()))
def test_every_public_class_and_function_has_a_docstring(name):
    assert _own_doc(getattr(segmentkit, name)), f"segmentkit.{name} has no docstring"


def _public_methods():
    for name in _documentable():
        cls = getattr(segmentkit, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException | enum.Enum):
            continue
        if cls.__module__.startswith("pydantic"):
            continue
        for attr, value in vars(cls).items():
            if attr.startswith(("_", "model_")):  # model_*: pydantic's own hooks
                continue
            if inspect.isfunction(value) or isinstance(value, property | classmethod):
                yield f"{name}.{attr}", value


METHODS = dict(_public_methods())


@pytest.mark.parametrize("qualname", list(METHODS))
def test_every_public_method_has_a_docstring(qualname):
    member = METHODS[qualname]
    target = member.fget if isinstance(member, property) else member
    target = target.__func__ if isinstance(target, classmethod) else target
    assert (target.__doc__ or "").strip(), f"{qualname} has no docstring"


def _hookspecs():
    return [
        (name, fn)
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    ]


def test_hookspecs_are_found():
    assert "segmentkit_register_providers" in dict(_hookspecs())


@pytest.mark.parametrize("name", [name for name, _ in _hookspecs()])
def test_every_hook_is_documented_in_its_spec(name):
    spec = getattr(hookspecs, name)
    assert len((spec.__doc__ or "").strip()) > 40, f"hook {name} has no real docstring"
    assert name.startswith("segmentkit_")


@pytest.mark.parametrize("doc", ["README.md", "ADDING_PROVIDERS.md"])
def test_every_hook_is_mentioned_in_docs_that_mention_hooks(doc):
    path = ROOT / doc
    if not path.exists():
        pytest.fail(f"{doc} is missing")
    text = path.read_text(encoding="utf-8")
    if not re.search(r"\bhooks?\b|segmentkit_\w+", text):
        pytest.fail(f"{doc} does not document the hooks")
    missing = [name for name, _ in _hookspecs() if name not in text]
    assert not missing, f"{doc} does not mention hook(s) {missing}"


@pytest.mark.parametrize("package", ["segmentkit", "segmentkit_notificator", "segmentkit_allstech"])
def test_package_ships_py_typed(package):
    assert (ROOT / package / "py.typed").is_file()


def test_version_strings_are_consistent():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", segmentkit.__version__)
    assert re.fullmatch(r"\d+\.\d+", segmentkit.CORE_API_VERSION)


def test_core_and_memory_plugin_and_pytest_plugin_load_without_the_testing_extra():
    """Loading every adapter (memory included) and the pytest plugin must not need werkzeug
    or responses: without the `testing` extra they would break connect() and pytest."""
    import subprocess
    import sys

    code = (
        "import sys, segmentkit, segmentkit.testing.pytest_plugin\n"
        "segmentkit.available_providers()\n"
        "import segmentkit.testing as t; t.__all__\n"
        "print(sorted(m for m in ('werkzeug', 'responses') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
