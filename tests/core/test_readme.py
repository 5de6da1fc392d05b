"""The README's code runs: the library quick start against both fakes (only credentials and
URLs substituted), and the "testing your app" example as a real test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import segmentkit
from segmentkit.testing import fake

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_first_screen_names_the_two_commands():
    head = README.read_text(encoding="utf-8")[:1200]
    assert "make demo" in head
    assert "make test" in head


def test_readme_library_quick_start_runs_against_the_fakes(monkeypatch, capsys):
    code = python_blocks()[0]
    with fake("notificator", "socket") as sms, fake("allstech", "socket") as mail:
        key = sms.platform.dsn_for(sms.base_url).split("://", 1)[1].split("@", 1)[0]
        pub, sec = mail.platform.dsn_for(mail.base_url).split("://", 1)[1].split("@")[0].split(":")
        substitutions = {
            '"notificator://API_KEY@notificatorsms.com"': repr(sms.dsn()),
            'public_key="...", secret_key="..."': (
                f"public_key={pub!r}, secret_key={sec!r}, base_url={mail.base_url!r}"
            ),
            'api_key="...", base_url="https://invionotifiche.it/api/"': (
                f"api_key={key!r}, base_url={sms.base_url!r}"
            ),
        }
        for old, new in substitutions.items():
            assert old in code, f"README quick start changed: {old!r} not found"
            code = code.replace(old, new)
        monkeypatch.setenv("SEGMENTKIT_NOTIFICATOR_API_KEY", key)
        monkeypatch.setenv("SEGMENTKIT_NOTIFICATOR_BASE_URL", sms.base_url)
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
        printed = capsys.readouterr().out
    assert "added 1, rejected 1" in printed
    assert key not in printed


def test_readme_testing_example_passes(segmentkit_fake):
    code = next(b for b in python_blocks() if "def test_vip_sync" in b)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    namespace["test_vip_sync"](segmentkit_fake)  # type: ignore[operator]


def test_readme_lists_every_installed_provider():
    text = README.read_text(encoding="utf-8")
    for info in segmentkit.available_providers():
        if info.distribution == "segmentkit":
            assert f"`{info.name}`" in text, f"README provider table misses {info.name}"


@pytest.mark.parametrize("hook", ["segmentkit_register_providers", "segmentkit_event"])
def test_readme_mentions_every_hook(hook):
    assert hook in README.read_text(encoding="utf-8")
