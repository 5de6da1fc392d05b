"""Issue 16, the pip user's CLI: install hints, ``python -m``, the sandbox's DSNs, progress
that tells time, removal confirmation, the dry-run estimate, Ctrl-C, and no DSN credential in
any line the CLI prints."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmentkit
from segmentkit.cli import cli
from segmentkit.cli import commands as cli_commands
from segmentkit.cli.output import Output, ProgressState, clean, format_duration
from segmentkit.events import RateLimitWait
from segmentkit.models import Recipient

PEOPLE = [Recipient(email="a@example.com"), Recipient(email="b@example.com")]


def python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTKIT_")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGMENTKIT_DSN", raising=False)
    monkeypatch.setenv("SEGMENTKIT_CONFIG", str(tmp_path / "none.toml"))
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


# -- extras and entry points


@pytest.mark.parametrize("blocked", ["click", "rich"])
def test_console_script_without_the_cli_extra_prints_one_install_line(blocked):
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from segmentkit.cli import main\nmain(['--help'])\n"
    )
    proc = python(code)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f'segmentkit: this needs {blocked!r}; install it with: pip install "segmentkit[cli]"'
    ]
    assert "Traceback" not in proc.stderr


def test_help_imports_neither_werkzeug_nor_responses_nor_the_test_kit():
    code = (
        "import sys\nfrom segmentkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('werkzeug', 'responses', 'segmentkit.testing.server') "
        "if m in sys.modules]\nprint('HEAVY', heavy, code)\n"
    )
    proc = python(code)
    assert "HEAVY [] 0" in proc.stdout, proc.stdout + proc.stderr
    assert "sandbox" in proc.stdout
    assert "providers" in proc.stdout


@pytest.mark.parametrize("command", ["demo", "sandbox"])
def test_demo_and_sandbox_without_the_test_kit_say_which_extra(command):
    code = (
        "import sys; sys.modules['werkzeug'] = None; sys.modules['responses'] = None\n"
        f"from segmentkit.cli import main\nmain([{command!r}, '--seconds', '0'] "
        f"if {command!r} == 'sandbox' else [{command!r}])\n"
    )
    proc = python(code)
    assert proc.returncode == 1
    assert 'pip install "segmentkit[testing]"' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_python_dash_m_segmentkit_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "segmentkit", "providers", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    names = {p["name"] for p in json.loads(proc.stdout)["providers"]}
    assert {"notificator", "allstech"} <= names


# -- the sandbox


def test_sandbox_prints_dsns_that_work_and_writes_them_to_the_env_file(tmp_path):
    env_file = tmp_path / "sandbox.env"
    script = Path(sys.executable).with_name("segmentkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTKIT_")}
    proc = subprocess.Popen(
        [str(script), "sandbox", "--env-file", str(env_file), "--seconds", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert env_file.exists(), "the sandbox did not write its env file in 30 s"
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in env_file.read_text(encoding="utf-8").splitlines()
        )
        assert exports["SMS_DSN"].strip("'").startswith("notificator+http://")
        assert exports["MAIL_DSN"].strip("'").startswith("allstech+http://")
        for var in ("SMS_DSN", "MAIL_DSN"):
            with segmentkit.connect(exports[var].strip("'")) as client:
                assert [s.name for s in client.segments.list()]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "export SMS_DSN=" in out
    assert "export MAIL_DSN=" in out
    assert not env_file.exists(), "the env file outlives the sandbox"


# -- progress that tells time


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_state_tells_rate_elapsed_eta_and_the_rate_limit_wait():
    clock = Clock()
    state = ProgressState("sync VIP", clock)
    state.update("add", 0, 5000)
    clock.now += 60
    state.update("add", 30, 5000)  # half the 66text limit (API-SPEC §1.4)
    state.on_event(RateLimitWait(provider="notificator", delay=41.2, limit=60, remaining=0))
    line = state.line()
    assert line.startswith("sync VIP: add 30/5000")
    assert "30/min" in line
    assert "elapsed 1m00s" in line
    assert "ETA 2h45m" in line  # 4970 more at 0.5/s
    assert "waiting for the platform's rate limit (resumes in 42 s)" in line
    clock.now += 30
    assert "(resumes in 12 s)" in state.line()
    clock.now += 15
    state.update("add", 31, 5000)
    assert "waiting" not in state.line()


def test_format_duration():
    assert [format_duration(s) for s in (8, 75, 5040)] == ["8s", "1m15s", "1h24m"]


def test_progress_without_a_terminal_prints_the_line_with_verbose(monkeypatch):
    out = Output(verbose=True)
    buf = io.StringIO()
    out.errors.file = buf
    clock = Clock()
    with out.progress("sync S", clock=clock) as view:
        assert view is not None
        view("add", 0, 10)
        view.on_event(RateLimitWait(provider="memory", delay=5.0))
        clock.now += 10
        view("add", 10, 10)
    text = buf.getvalue()
    assert "sync S: add 0/10" in text
    assert "sync S: add 10/10" in text
    assert Output().progress("x").__enter__() is None  # quiet without a terminal


def test_cli_sync_feeds_rate_limit_events_to_the_progress_view(run, memory, tmp_path, monkeypatch):
    seen: list[object] = []

    class Spy:
        def __init__(self, *a, **k):
            self.inner = ProgressState(*a, **k)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def on_event(self, event):
            seen.append(event)
            self.inner.on_event(event)

    monkeypatch.setattr("segmentkit.cli.output.ProgressState", Spy)
    monkeypatch.setattr(Output, "tty", property(lambda self: True))
    sid = memory.platform.seed_segment("S", [])
    csv = tmp_path / "c.csv"
    csv.write_text("email\na@example.com\nb@example.com\n", encoding="utf-8")
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", str(csv))
    assert result.exit_code == 0, result.output
    assert seen, "the progress view received no client event"


# -- confirmation, estimate, interruption


def test_sync_on_a_terminal_asks_before_removing_and_keeps_members_when_declined(
    run, memory, tmp_path, monkeypatch
):
    monkeypatch.setattr(cli_commands, "interactive", lambda: True)
    sid = memory.platform.seed_segment("S", PEOPLE)
    csv = tmp_path / "c.csv"
    csv.write_text("email\na@example.com\n", encoding="utf-8")
    declined = run("--dsn", memory.dsn(), "sync", sid, "--from", str(csv), input="n\n")
    assert declined.exit_code == 1
    assert "Remove 1 member(s)" in declined.output
    assert sorted(memory.platform.member_identities(sid)) == ["a@example.com", "b@example.com"]
    accepted = run("--dsn", memory.dsn(), "sync", sid, "--from", str(csv), "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert "Remove" not in accepted.output
    assert memory.platform.member_identities(sid) == ["a@example.com"]


def test_recipients_remove_on_a_terminal_asks_first(run, memory, monkeypatch):
    monkeypatch.setattr(cli_commands, "interactive", lambda: True)
    sid = memory.platform.seed_segment("S", PEOPLE)
    result = run("--dsn", memory.dsn(), "recipients", "remove", sid, "a@example.com", input="n\n")
    assert result.exit_code == 1
    assert len(memory.platform.member_identities(sid)) == 2


def test_dry_run_states_request_count_and_duration(run, memory, tmp_path):
    sid = memory.platform.seed_segment("S", PEOPLE)
    csv = tmp_path / "c.csv"
    csv.write_text("email\nc@example.com\nd@example.com\n", encoding="utf-8")
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", str(csv), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "plan: up to 4 write requests" in result.output


def test_estimate_for_a_long_sms_sync_uses_the_published_limit(memory):
    class Plan:
        to_add = [object()] * 5000
        to_remove: list[object] = []

    class FakeClient:
        provider = "notificator"

    line = cli_commands.estimate_line(FakeClient(), Plan())  # type: ignore[arg-type]
    assert line == "plan: up to 5000 write requests, about 1h23m at 60 per 60 s"


def test_ctrl_c_prints_the_partial_summary_and_exits_130(run, memory, tmp_path, monkeypatch):
    class Partial:
        def summary(self) -> str:
            return "added 3, failed 0"

    class Interrupted(KeyboardInterrupt):
        result = Partial()

    def apply(*args, **kwargs):
        raise Interrupted

    monkeypatch.setattr("segmentkit.client.RecipientsAPI.apply", apply)
    sid = memory.platform.seed_segment("S", [])
    csv = tmp_path / "c.csv"
    csv.write_text("email\na@example.com\n", encoding="utf-8")
    result = run("--dsn", memory.dsn(), "sync", sid, "--from", str(csv))
    assert result.exit_code == 130
    assert "interrupted; done before the interruption: added 3, failed 0" in result.stderr


# -- secrets


def test_clean_masks_the_credential_part_of_any_dsn():
    text = "connecting to notificator+http://k3y-S3CRET@127.0.0.1:80/api/ and allstech://p:s@h"
    assert clean(text) == (
        "connecting to notificator+http://***@127.0.0.1:80/api/ and allstech://***@h"
    )


def test_verbose_connecting_line_and_error_line_never_echo_dsn_credentials(run):
    secret = "Zq9SECRETkey77"
    result = run(
        "--verbose", "--dsn", f"memory+http://{secret}@127.0.0.1:9/api/", "segments", "list"
    )
    assert result.exit_code != 0
    assert "connecting to" in result.stderr
    assert secret not in result.output + result.stderr
    bad = run("--dsn", f"notificator://{secret}@host:notaport", "segments", "list")
    assert bad.exit_code == 2
    assert secret not in bad.output + bad.stderr


def test_library_fakes_without_the_test_kit_name_the_extra():
    code = (
        "import sys; sys.modules['werkzeug'] = None\n"
        "try:\n    from segmentkit.testing import fake\n"
        "except ModuleNotFoundError as e:\n    print('MSG', e, e.name)\n"
    )
    proc = python(code)
    assert (
        'MSG segmentkit\'s fake platforms need the test kit: pip install "segmentkit[testing]"'
        in (proc.stdout)
    ), proc.stdout + proc.stderr
