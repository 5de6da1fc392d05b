"""Every CLI command through click's CliRunner, against the memory fake on loopback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from segmentkit.cli import cli
from segmentkit.models import Recipient
from segmentkit.testing import fake

PEOPLE = [
    Recipient(email="a@example.com", first_name="Ann", last_name="A"),
    Recipient(email="b@example.com", first_name="Bob", last_name="B"),
]


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGMENTKIT_DSN", raising=False)
    monkeypatch.setenv("SEGMENTKIT_CONFIG", str(tmp_path / "none.toml"))
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def assert_no_secret(result, srv):
    assert srv.platform.api_key not in result.output
    assert srv.platform.api_key not in (result.stderr or "")


def test_providers_json_lists_memory_capabilities(run):
    result = run("providers", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    memory = next(p for p in data["providers"] if p["name"] == "memory")
    assert memory["channel"] == "email"
    assert "add_recipients" in memory["capabilities"]
    assert isinstance(data["failed"], list)


def test_providers_table_shows_matrix(run):
    result = run("providers")
    assert result.exit_code == 0
    assert "memory" in result.stdout
    assert "remove" in result.stdout


def test_segments_list_json_parses(run, memory):
    memory.platform.seed_segment("Newsletter", PEOPLE)
    result = run("--dsn", memory.dsn(), "segments", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(s["name"], s["recipient_count"]) for s in data] == [("Newsletter", 2)]
    assert "raw" not in data[0]
    assert_no_secret(result, memory)


def test_segments_get_by_name_shows_segment(run, memory):
    sid = memory.platform.seed_segment("Newsletter", PEOPLE)
    result = run("--dsn", memory.dsn(), "segments", "get", "newsletter", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["id"] == sid


def test_segments_get_unknown_exits_1_with_one_line(run, memory):
    result = run("--dsn", memory.dsn(), "segments", "get", "999")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: memory: 404")
    assert "Traceback" not in result.output


def test_segments_create_rename_delete_round_trip(run, memory):
    dsn = memory.dsn()
    created = run("--dsn", dsn, "segments", "create", "VIP", "-m", "a@example.com", "--json")
    assert created.exit_code == 0
    sid = json.loads(created.stdout)["id"]
    renamed = run("--dsn", dsn, "segments", "rename", sid, "VIP 2")
    assert renamed.exit_code == 0
    assert memory.platform.segments[int(sid)].name == "VIP 2"
    deleted = run("--dsn", dsn, "segments", "delete", sid, "--yes")
    assert deleted.exit_code == 0
    assert memory.platform.segment_ids() == []


def test_segments_delete_declined_keeps_segment(run, memory):
    sid = memory.platform.seed_segment("Keep", PEOPLE)
    result = run("--dsn", memory.dsn(), "segments", "delete", sid, input="n\n")
    assert result.exit_code == 1
    assert memory.platform.segment_ids() == [sid]


def test_recipients_add_list_remove(run, memory):
    dsn = memory.dsn()
    sid = memory.platform.seed_segment("S", [])
    added = run("--dsn", dsn, "recipients", "add", sid, "a@example.com", "--json")
    assert added.exit_code == 0
    assert json.loads(added.stdout)[0]["status"] == "added"
    listed = run("--dsn", dsn, "recipients", "list", sid, "--json")
    assert [r["email"] for r in json.loads(listed.stdout)] == ["a@example.com"]
    removed = run("--dsn", dsn, "recipients", "remove", sid, "a@example.com")
    assert removed.exit_code == 0
    assert memory.platform.member_identities(sid) == []


def test_recipients_add_invalid_exits_1_and_adds_valid(run, memory):
    sid = memory.platform.seed_segment("S", [])
    result = run("--dsn", memory.dsn(), "recipients", "add", sid, "ok@example.com", "bad@")
    assert result.exit_code == 1
    assert "rejected" in result.stdout
    assert memory.platform.member_identities(sid) == ["ok@example.com"]


def test_export_csv_to_stdout_and_json_to_file(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", PEOPLE)
    as_csv = run("--dsn", memory.dsn(), "export", sid, "--format", "csv")
    assert as_csv.exit_code == 0
    assert as_csv.stdout.splitlines()[0].startswith("id,email,phone")
    assert "a@example.com" in as_csv.stdout
    out = tmp_path / "members.json"
    as_json = run("--dsn", memory.dsn(), "export", sid, "--format", "json", "-o", str(out))
    assert as_json.exit_code == 0
    assert [r["email"] for r in json.loads(out.read_text())] == ["a@example.com", "b@example.com"]


def _csv(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_sync_dry_run_sends_no_write(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", PEOPLE)
    path = _csv(tmp_path, "email\nb@example.com\nc@example.com\n")
    memory.log.clear()
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", path, "--dry-run", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["plan"]["to_add"] == ["c@example.com"]
    assert data["plan"]["to_remove"] == ["a@example.com"]
    assert memory.log.writes() == []


def test_sync_second_run_zero_writes(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", PEOPLE)
    path = _csv(tmp_path, "email,first_name\nb@example.com,Bob\nc@example.com,Cy\n")
    first = run("--dsn", memory.dsn(), "sync", sid, "--from", path)
    assert first.exit_code == 0, first.output
    assert "added 1" in first.stdout
    assert sorted(memory.platform.member_identities(sid)) == ["b@example.com", "c@example.com"]
    memory.log.clear()
    second = run("--dsn", memory.dsn(), "sync", sid, "--from", path)
    assert second.exit_code == 0
    assert memory.log.writes() == []
    assert "unchanged 2" in second.stdout


def test_sync_keep_extra_keeps_members(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", PEOPLE)
    path = _csv(tmp_path, "email\nc@example.com\n")
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", path, "--keep-extra")
    assert result.exit_code == 0
    assert len(memory.platform.member_identities(sid)) == 3


def test_sync_bad_rows_reported_by_line_and_exit_1(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", [])
    text = (
        "\ufeffemail,phone\ngood@example.com,\nbad@,\n,+393331234567\n,,extra\ngood@example.com,\n"
    )
    path = _csv(tmp_path, text)
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", path, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert sorted(r["line"] for r in data["plan"]["rejected"]) == [3, 4]
    assert {p["line"] for p in data["csv_problems"]} == {5, 6}
    assert memory.platform.member_identities(sid) == ["good@example.com"]


def test_sync_dynamic_segment_exits_1_unsupported(run, memory, tmp_path):
    sid = memory.platform.add_segment("R", rules=[{"field": "x", "op": "equals", "values": ["1"]}])
    path = _csv(tmp_path, "email\na@example.com\n")
    result = run("--dsn", memory.dsn(), "sync", str(sid), "--from", path)
    assert result.exit_code == 1
    assert "not supported" in result.stderr


def test_sync_csv_without_identity_column_exits_2(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", [])
    path = _csv(tmp_path, "name\nAnn\n")
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", path)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_no_account_exits_2_with_hint(run):
    result = run("segments", "list")
    assert result.exit_code == 2
    assert "SEGMENTKIT_DSN" in result.stderr


def test_bad_dsn_exits_2(run):
    result = run("--dsn", "nothing-here", "segments", "list")
    assert result.exit_code == 2


def test_unknown_option_exits_2(run):
    assert run("segments", "list", "--bogus").exit_code == 2


def test_wrong_key_prints_auth_error_with_env_hint_and_no_secret(run, memory):
    bad = memory.platform.bad_dsn(memory.base_url)
    result = run("--dsn", bad, "segments", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: memory: 401 invalid API key. Check SEGMENTKIT_MEMORY_API_KEY or the DSN."
    )
    assert "0" * 32 not in result.output


def test_debug_prints_traceback_masked(run, memory):
    result = run("--debug", "--dsn", memory.dsn(), "segments", "get", "999")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert_no_secret(result, memory)


def test_account_from_config_file_selects_dsn(run, memory, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.mail]\ndsn = "{memory.dsn()}"\n', encoding="utf-8")
    monkeypatch.setenv("SEGMENTKIT_CONFIG", str(config))
    memory.platform.seed_segment("S", PEOPLE)
    result = run("--account", "mail", "segments", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["name"] == "S"
    assert_no_secret(result, memory)


def test_unknown_account_exits_2_naming_known(run, memory, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.mail]\ndsn = "{memory.dsn()}"\n', encoding="utf-8")
    monkeypatch.setenv("SEGMENTKIT_CONFIG", str(config))
    result = run("--account", "sms", "segments", "list")
    assert result.exit_code == 2
    assert "mail" in result.stderr


def test_env_dsn_used_when_no_option(run, memory, monkeypatch):
    monkeypatch.setenv("SEGMENTKIT_DSN", memory.dsn())
    memory.platform.seed_segment("S", [])
    result = run("segments", "list", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 1


def test_copy_between_accounts_into_new_segment(run, registry, memory, monkeypatch, tmp_path):
    with fake("memory", "socket", registry=registry, seed=5) as dst:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[accounts.one]\ndsn = "{memory.dsn()}"\n[accounts.two]\ndsn = "{dst.dsn()}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("SEGMENTKIT_CONFIG", str(config))
        sid = memory.platform.seed_segment("VIP", PEOPLE)
        result = run("copy", "--from", f"one:{sid}", "--to", "two", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["created"]
        assert sorted(dst.platform.member_identities(data["segment_id"])) == [
            "a@example.com",
            "b@example.com",
        ]


def test_copy_with_dsn_endpoints_dry_run_sends_no_write(run, registry, memory):
    with fake("memory", "socket", registry=registry, seed=5) as dst:
        sid = memory.platform.seed_segment("VIP", PEOPLE)
        did = dst.platform.seed_segment("Target", [])
        dst.log.clear()
        result = run(
            "copy", "--from", f"{memory.dsn()}#{sid}", "--to", f"{dst.dsn()}#{did}", "--dry-run"
        )
        assert result.exit_code == 0, result.output
        assert dst.log.writes() == []
        assert_no_secret(result, memory)
        assert dst.platform.api_key not in result.output
