"""ErrorRules declarations, paging styles and the SIGINT path of session waits."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest
import requests

from segmentkit import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    UnexpectedResponseError,
    ValidationError,
)
from segmentkit.http import Cursor, ErrorRules, PageNumber, Unpaged
from segmentkit.http.session import Session


def _response(status: int) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    return r


RULES = ErrorRules(
    titles={"You do not have access to the API.": AuthenticationError},
    fields={"PublicKey": AuthenticationError},
    messages=[(r"(?i)record not found", NotFoundError)],
    success=lambda body: not (isinstance(body, dict) and body.get("status") == "failed"),
)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"status": "success", "message": {}}, None),
        (401, {"errors": [{"title": "You do not have access to the API."}]}, AuthenticationError),
        (200, {"status": "failed", "errors": {"PublicKey": ["invalid"]}}, AuthenticationError),
        (200, {"status": "failed", "errors": "Record Not Found"}, NotFoundError),
        (200, {"status": "failed", "errors": {"email": ["bad"]}}, UnexpectedResponseError),
        (422, {"message": "nope"}, ValidationError),
        (429, {"message": "Too Many Attempts."}, RateLimitError),
    ],
)
def test_error_rules_in_declared_order(status: int, body: Any, expected: type | None) -> None:
    found = RULES.error_for(_response(status), body)
    if expected is None:
        assert found is None
    else:
        assert type(found) is expected


def test_error_rules_classify_hook_wins() -> None:
    rules = ErrorRules(classify=lambda r, b: NotFoundError("gone"))
    assert isinstance(rules.error_for(_response(200), {}), NotFoundError)


def test_paging_styles_build_params_and_next_tokens() -> None:
    style = PageNumber(page="page", size="results_per_page", total_pages="meta.total_pages")
    assert style.params(None, 10) == {"page": 1, "results_per_page": 10}
    assert style.next_token(None, {"meta": {"total_pages": 2}}, 10, 10) == 2
    assert style.next_token(2, {"meta": {"total_pages": 2}}, 10, 10) is None
    assert PageNumber().next_token(3, {}, 4, 10) is None  # a short page is the last
    cursor = Cursor(param="after", next="paging.next")
    assert cursor.params("abc", None) == {"after": "abc"}
    assert cursor.next_token("abc", {"paging": {"next": "def"}}, 5, None) == "def"
    assert cursor.next_token("def", {"paging": {}}, 5, None) is None
    assert Unpaged().next_token(None, [], 3, None) is None


@pytest.mark.timeout(30)
def test_a_main_thread_wait_is_interrupted_by_a_real_sigint(srv: Any) -> None:
    assert threading.current_thread() is threading.main_thread()
    http: Session = srv.client(max_retry_wait=60).adapter.http
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            http.wait(20.0, "backoff")
    finally:
        timer.cancel()
