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
