"""Issue 16 for library users: two responses-mode fakes in one test, the fixture types, the
logging switch, typed connect keywords, and the LICENSE."""

from __future__ import annotations

import inspect
import io
import logging
from pathlib import Path

import pytest
import requests

import segmentkit
from segmentkit.testing import FakeFactory, fake
from segmentkit.transport import ClientOptions

ROOT = Path(__file__).resolve().parents[2]


def test_two_responses_fakes_coexist_for_a_cross_platform_copy(segmentkit_fake: FakeFactory):
    sms = segmentkit_fake("notificator", mode="responses")
    mail = segmentkit_fake("allstech", mode="responses")
    src = sms.platform.seed_segment("VIP", [segmentkit.Recipient(phone="+393331234567")])
    dst = mail.platform.seed_segment("VIP mail", [])
    sms_client, mail_client = sms.client(), mail.client()
    assert [s.name for s in sms_client.segments.list()] == ["VIP"]
    assert [s.name for s in mail_client.segments.list()] == ["VIP mail"]
    result = segmentkit.copy_segment(sms_client, src, mail_client, target_segment_id=dst)
    # The copy read the SMS fake and planned against the email fake: the member has no email.
    assert [o.reason for o in result.plan.rejected] == ["no email address, which allstech needs"]
    ann = {"email": "a@example.com", "first_name": "Ann", "last_name": "Rossi"}
    assert mail_client.recipients.add(dst, [ann]).summary() == "added 1"
    assert sms_client.recipients.add(src, ["+393471112233"]).summary() == "added 1"
    assert mail.platform.member_identities(dst) == ["a@example.com"]
    assert sorted(sms.platform.member_identities(src)) == ["+393331234567", "+393471112233"]


def test_two_responses_fakes_of_one_provider_get_their_own_hosts_and_stop_cleanly():
    with fake("notificator", "responses") as one, fake("notificator", "responses") as two:
        assert one.base_url != two.base_url
        one.platform.seed_segment("first", [])
        two.platform.seed_segment("second", [])
        assert [s.name for s in one.client().segments.list()] == ["first"]
        assert [s.name for s in two.client().segments.list()] == ["second"]
        url = one.base_url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=2)  # the mock is gone with the last fake


def test_fixture_types_are_exported():
    from segmentkit.testing import LiveFactory
    from segmentkit.testing.pytest_plugin import segmentkit_fake, segmentkit_live

    assert "FakeFactory" in str(inspect.signature(segmentkit_fake.__wrapped__).return_annotation)
    assert "LiveFactory" in str(inspect.signature(segmentkit_live.__wrapped__).return_annotation)
    assert LiveFactory.__name__ == "LiveFactory"


def test_package_logger_has_a_null_handler_and_enable_logging_masks_secrets():
    logger = logging.getLogger("segmentkit")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
    stream = io.StringIO()
    old_level = logger.level
    handler = segmentkit.enable_logging("DEBUG", stream=stream)
    try:
        with fake("notificator", "socket") as srv:
            srv.client().segments.list().to_list()
            key = srv.dsn().split("://", 1)[1].split("@", 1)[0]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = stream.getvalue()
    assert "segmentkit" in text
    assert "GET" in text
    assert key not in text


def test_connect_spells_out_every_client_option():
    params = inspect.signature(segmentkit.connect).parameters
    for name in ClientOptions.model_fields:
        assert name in params, f"connect() lacks the keyword {name}"
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    for name in ("base_url", "allow_insecure", "on_event", "coordination"):
        assert name in params


def test_connect_rejects_an_unknown_coordination_backend():
    with fake("notificator", "socket") as srv, pytest.raises(segmentkit.ConfigurationError):
        segmentkit.connect(srv.dsn(), coordination="nonsense-backend")


def test_license_is_mit_and_declared():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
