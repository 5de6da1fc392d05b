"""The CLI's --coordination and a named account's ``coordination = "..."`` reach connect()."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import segmentkit.client as client_module
from segmentkit import ConfigurationError
from segmentkit.cli import cli
from segmentkit.cli.accounts import account_coordination
from segmentkit.testing import fake


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the CLI passed to connect() as ``coordination`` (then connects without it)."""
    calls: list[Any] = []
    real = client_module.connect  # the CLI imports it when a command connects

    def spy(target: str, **kwargs: Any) -> Any:
        calls.append(kwargs.pop("coordination", None))
        return real(target, **kwargs)

    monkeypatch.setattr(client_module, "connect", spy)
    monkeypatch.delenv("SEGMENTKIT_DSN", raising=False)
    return calls


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dsn: str, extra: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[accounts.sms]\ndsn = "{dsn}"\n{extra}\n', encoding="utf-8")
    monkeypatch.setenv("SEGMENTKIT_CONFIG", str(path))


def test_option_and_account_setting_reach_connect(
    seen: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake("memory", "socket", seed=3) as srv:
        _config(tmp_path, monkeypatch, srv.dsn(), 'coordination = "local"')
        runner = CliRunner()
        out = runner.invoke(cli, ["--account", "sms", "segments", "list", "--json"])
        assert out.exit_code == 0, out.output
        assert isinstance(json.loads(out.stdout), list)
        flag = ["--coordination", "host", "--account", "sms", "segments", "list", "--json"]
        assert runner.invoke(cli, flag).exit_code == 0
        assert runner.invoke(cli, ["--dsn", srv.dsn(), "segments", "list"]).exit_code == 0
    assert seen == ["local", "host", None]  # the flag wins; a bare --dsn uses the default


def test_account_coordination_reads_and_checks_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, "memory://k@127.0.0.1", 'coordination = " redis://h:1/0 "')
    assert account_coordination("sms") == "redis://h:1/0"
    assert account_coordination("other") is None
    assert account_coordination(None) is None
    _config(tmp_path, monkeypatch, "memory://k@127.0.0.1", "coordination = 5")
    with pytest.raises(ConfigurationError, match="coordination must be"):
        account_coordination("sms")
