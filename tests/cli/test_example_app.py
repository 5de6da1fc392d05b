"""examples/csv_sync_app runs against the fake platforms on loopback (the sandbox's fakes) as
a user would run it: a subprocess with SMS_DSN / MAIL_DSN in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmentkit.models import Recipient
from segmentkit.testing import fake

APP = Path(__file__).resolve().parents[2] / "examples" / "csv_sync_app"


def run_app(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SEGMENTKIT_", "SMS_", "MAIL_"))
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, str(APP / "sync_customers.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def platforms():
    with fake("notificator", "socket", seed=7) as sms, fake("allstech", "socket", seed=7) as mail:
        old = Recipient(
            email="old@example.com", phone="+393479998877", first_name="O", last_name="C"
        )
        sms.platform.seed_segment("VIP", [old])
        mail.platform.seed_segment("Newsletter email", [old])
        yield sms, mail


def test_example_app_syncs_both_platforms_then_finds_nothing_to_do(platforms):
    sms, mail = platforms
    env = {"SMS_DSN": sms.dsn(), "MAIL_DSN": mail.dsn()}
    args = (
        str(APP / "customers.csv"),
        "--sms-segment",
        "VIP",
        "--mail-segment",
        "Newsletter email",
    )
    first = run_app(*args, env_extra=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "+5 -1" in first.stdout
    assert len(sms.platform.member_identities("1")) == 5
    assert "old@example.com" not in mail.platform.member_identities("1")
    sms.log.clear()
    mail.log.clear()
    second = run_app(*args, env_extra=env)
    assert second.returncode == 0, second.stderr
    assert sms.log.writes() == []
    assert mail.log.writes() == []
    for proc in (first, second):
        assert sms.dsn().split("://")[1].split("@")[0] not in proc.stdout + proc.stderr


def test_example_app_reports_rejected_rows_with_their_lines_and_exits_1(platforms, tmp_path):
    _sms, mail = platforms
    csv = tmp_path / "c.csv"
    csv.write_text(
        "email,phone,first_name,last_name\n"
        "a@example.com,+393331234567,A,B\n"
        ",+393471112233,No,Email\n",
        encoding="utf-8",
    )
    proc = run_app(
        str(csv), "--mail-segment", "Newsletter email", env_extra={"MAIL_DSN": mail.dsn()}
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "line 3" in proc.stdout


def test_example_app_wrong_key_bad_file_and_unknown_segment_exit_2(platforms, tmp_path):
    sms, _ = platforms
    bad_key = sms.platform.bad_dsn(sms.base_url)
    wrong = run_app(
        str(APP / "customers.csv"), "--sms-segment", "VIP", env_extra={"SMS_DSN": bad_key}
    )
    assert wrong.returncode == 2
    assert "refused the key" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nnobody\n", encoding="utf-8")
    no_id = run_app(str(bad), "--sms-segment", "VIP", env_extra={"SMS_DSN": sms.dsn()})
    assert no_id.returncode == 2
    assert "email" in no_id.stderr
    missing = run_app(
        str(APP / "customers.csv"), "--sms-segment", "Nope", env_extra={"SMS_DSN": sms.dsn()}
    )
    assert missing.returncode == 2
    assert "no segment named 'Nope'" in missing.stderr
