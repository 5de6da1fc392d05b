"""Import cost: ``import segmentkit`` (and using the client) must not drag in the optional or
heavy parts — phonenumbers, email-validator, the CLI, the test kit — until they are used
(issue 14). Each check runs in a fresh interpreter, since this one has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import segmentkit

#: Never imported by ``import segmentkit`` nor by building a client.
HEAVY = (
    "phonenumbers",
    "email_validator",
    "click",
    "rich",
    "werkzeug",
    "responses",
    "segmentkit.cli",
    "segmentkit.testing",
)


def _modules_after(code: str) -> set[str]:
    """The top-level and segmentkit modules loaded after running ``code`` in a fresh
    interpreter."""
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules]


def test_import_segmentkit_loads_none_of_the_heavy_parts():
    modules = _modules_after("import segmentkit")
    assert _loaded(modules, HEAVY) == []
    # Lazy: the package itself loads only its version until a name is used.
    assert "segmentkit.client" not in modules
    assert "pydantic" not in modules


def test_using_the_client_api_still_loads_no_identity_library_nor_cli():
    modules = _modules_after(
        "import segmentkit\n"
        "segmentkit.connect\n"
        "segmentkit.Recipient, segmentkit.Segment, segmentkit.SegmentQuery\n"
        "segmentkit.default_registry\n"
    )
    assert "segmentkit.client" in modules
    assert _loaded(modules, HEAVY) == []


def test_identity_libraries_load_on_first_use():
    modules = _modules_after(
        "from segmentkit import Recipient\nRecipient.parse('someone@example.com')\n"
    )
    assert "email_validator" in modules
    assert "phonenumbers" not in modules
    modules = _modules_after("from segmentkit import Recipient\nRecipient.parse('+393331234567')\n")
    assert "phonenumbers" in modules
    assert "email_validator" not in modules


def test_every_public_name_resolves_lazily():
    modules = _modules_after(
        "import segmentkit\n"
        "missing = [n for n in segmentkit.__all__ if not hasattr(segmentkit, n)]\n"
        "assert not missing, missing\n"
    )
    assert "segmentkit.models" in modules


def test_lazy_map_covers_all_and_nothing_else():
    lazy = set(segmentkit._LAZY)
    defined_here = {
        "CORE_API_VERSION",
        "__version__",
        "available_providers",
        "enable_logging",
        "plugin_errors",
    }
    assert lazy | defined_here == set(segmentkit.__all__)
    assert not lazy & defined_here


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = segmentkit.nope


def test_errors_do_not_import_requests_until_one_is_translated():
    # The exception classes are what the CLI and `except` clauses need; the table of
    # requests exceptions is built on the first translation (issue 14).
    modules = _modules_after("import segmentkit.errors")
    assert "requests" not in modules
    modules = _modules_after(
        "import requests\n"
        "from segmentkit.errors import RequestTimeoutError, translate_requests_error\n"
        "err = translate_requests_error(requests.exceptions.ConnectTimeout('x'))\n"
        "assert isinstance(err, RequestTimeoutError), err\n"
    )
    assert "requests" in modules


def test_the_client_api_loads_neither_pluggy_nor_ijson_nor_a_model_schema():
    # pluggy loads with the first registry (connect()), ijson with the first streamed
    # listing, and the neutral models build their pydantic schemas on first use (issue 14).
    code = (
        "import segmentkit\n"
        "segmentkit.connect, segmentkit.Recipient, segmentkit.Segment, segmentkit.BulkResult\n"
        "from pydantic._internal._mock_val_ser import MockValSer\n"
        "deferred = [m.__name__ for m in (segmentkit.Recipient, segmentkit.Segment)\n"
        "            if isinstance(m.__pydantic_validator__, MockValSer)]\n"
        "assert deferred == ['Recipient', 'Segment'], deferred\n"
    )
    modules = _modules_after(code)
    assert "segmentkit.client" in modules
    assert _loaded(modules, ("pluggy", "ijson", "segmentkit.hookspecs")) == []
    modules = _modules_after(code + "segmentkit.default_registry()\n")
    assert "pluggy" in modules


def test_a_deferred_model_validates_on_first_use():
    modules = _modules_after(
        "from segmentkit import Segment, SegmentKind\n"
        "s = Segment(id=1, provider='p', name=' n ', kind='static')\n"
        "assert (s.id, s.name, s.kind) == ('1', 'n', SegmentKind.static), s\n"
    )
    assert "segmentkit.models" in modules
