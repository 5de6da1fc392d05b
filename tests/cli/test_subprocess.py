"""The installed ``segmentkit`` script in a real subprocess, against fakes served by this test
process on 127.0.0.1 (DSNs passed via the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from segmentkit.models import Recipient

SCRIPT = Path(sys.executable).with_name("segmentkit")


def run(*args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTKIT_")}
    env["SEGMENTKIT_CONFIG"] = os.devnull + ".none.toml"
    env.update(env_extra or {})
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_script_sync_twice_second_run_zero_writes_and_no_secret(memory, tmp_path):
    sid = memory.platform.seed_segment("S", [Recipient(email="old@example.com")])
    csv = tmp_path / "c.csv"
    csv.write_text("email,first_name\na@example.com,Ann\nb@example.com,Bob\n", encoding="utf-8")
    env = {"SEGMENTKIT_DSN": memory.dsn()}
    first = run("sync", sid, "--from", str(csv), env_extra=env)
    assert first.returncode == 0, first.stderr
    assert sorted(memory.platform.member_identities(sid)) == ["a@example.com", "b@example.com"]
    memory.log.clear()
    second = run("sync", sid, "--from", str(csv), "--json", env_extra=env)
    assert second.returncode == 0, second.stderr
    assert memory.log.writes() == []
    assert json.loads(second.stdout)["counts"]["unchanged"] == 2
    for proc in (first, second):
        assert memory.platform.api_key not in proc.stdout + proc.stderr


def test_script_debug_log_masks_key(memory):
    memory.platform.seed_segment("S", [])
    proc = run("--debug", "--dsn", memory.dsn(), "segments", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["name"] == "S"
    assert memory.platform.api_key not in proc.stdout + proc.stderr


def test_script_wrong_key_exits_1_one_line(memory):
    proc = run("--dsn", memory.platform.bad_dsn(memory.base_url), "segments", "list")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: memory: 401 invalid API key. Check SEGMENTKIT_MEMORY_API_KEY or the DSN."
    ]


def test_script_usage_error_exits_2():
    proc = run("sync")
    assert proc.returncode == 2


def test_script_sandbox_runs_and_stops():
    proc = run("sandbox", "--seconds", "0.5", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "SEGMENTKIT_CONFIG=" in proc.stdout
    assert "sandbox stopped" in proc.stdout


def test_demo_exits_0_and_shows_zero_change_second_run():
    proc = run("demo", timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "second run" in out
    assert "0 write requests" in out
    assert "AuthenticationError" in out
    assert "requests sent" in out
    assert "Traceback" not in proc.stderr
