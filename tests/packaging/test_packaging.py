"""Quick packaging declarations (the slow build-and-install checks are `make dist-check`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_cli_extra_declares_tomli_for_python_310():
    cli = PYPROJECT["project"]["optional-dependencies"]["cli"]
    assert any(d.startswith("tomli") and "python_version < '3.11'" in d for d in cli)


def test_sdist_includes_what_its_tests_need():
    include = set(PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    assert {"tests", "examples", "LICENSE", "README.md", "docs", "mkdocs.yml"} <= include


def test_license_file_is_declared_for_both_distributions():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").is_file()


def test_console_script_and_module_entry_point():
    assert PYPROJECT["project"]["scripts"]["segmentkit"] == "segmentkit.cli:main"
    assert (ROOT / "segmentkit" / "__main__.py").is_file()


def test_make_test_runs_the_packaging_checks_and_ci_runs_make_test():
    makefile = (
        (ROOT / "Makefile").read_text(encoding="utf-8") if (ROOT / "Makefile").exists() else None
    )
    if makefile is None:
        pytest.skip("no Makefile here (an unpacked sdist); the repository's copy is checked")
    assert "dist-check" in makefile.split("test: lint typecheck", 1)[1].split("\n\n", 1)[0]
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
