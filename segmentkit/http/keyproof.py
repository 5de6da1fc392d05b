"""Platforms that answer 401 for refused input as well as for a bad key.

Some platforms (66text, API-SPEC 1.3) send HTTP 401 both when the credentials are wrong and
when they refuse what was sent (missing fields, plan limits), with titles a brand may
translate. A client whose key has already been accepted cannot have a bad key, so
:class:`KeyProof` turns a 401 on a later write into the input being refused.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import requests

from ..errors import APIError, AuthenticationError, ValidationError
from .envelope import dotted

__all__ = ["KeyProof"]


class KeyProof:
    """What this client's history says about an authentication failure.

    ``auth_messages`` are the messages the platform sends only for authentication problems
    (they stay :class:`AuthenticationError`); ``refusal`` is the class a 401 on a write
    (``writes``) becomes once any answer succeeded. For :meth:`judge_body`, ``message_at`` is
    the dotted path of the message in a decoded body and ``text_status_at`` that of a status
    which, sent as a JSON string, can only be about the credentials (66text, API-SPEC 1.3).
    """

    def __init__(
        self,
        *,
        auth_messages: Collection[str] = (),
        refusal: type[APIError] = ValidationError,
        writes: Collection[str] = ("POST", "PUT", "PATCH"),
        message_at: str | None = None,
        text_status_at: str | None = None,
    ) -> None:
        self.auth_messages = frozenset(auth_messages)
        self.message_at = message_at
        self.text_status_at = text_status_at
        self.refusal = refusal
        self.writes = frozenset(writes)
        #: Whether an answer of this client has succeeded (its credentials work).
        self.accepted = False

    def judge(
        self,
        response: requests.Response,
        error: APIError | None,
        message: str,
        *,
        auth_only: bool = False,
    ) -> APIError | None:
        """``error`` (the declared rules' verdict on ``response``, whose first message is
        ``message``), or the refusal it means for a client whose key has worked. A success
        marks the key as accepted; ``auth_only`` says the answer can only be about the
        credentials whatever its message."""
        if error is None:
            if 200 <= response.status_code < 300:
                self.accepted = True
            return None
        request = response.request
        method = (request.method or "GET").upper() if request is not None else "GET"
        if (
            type(error) is AuthenticationError
            and self.accepted
            and method in self.writes
            and not auth_only
            and message not in self.auth_messages
        ):
            return self.refusal(
                f"{message or 'HTTP 401'} (HTTP 401 on a write with a working key: the platform "
                "refused the input or the plan's limits)",
                status_code=401,
            )
        return error

    def judge_body(
        self, response: requests.Response, error: APIError | None, body: Any
    ) -> APIError | None:
        """:meth:`judge`, with the message read from ``body`` at ``message_at`` and
        ``auth_only`` set when ``body`` sends the status at ``text_status_at`` as a string."""
        message = dotted(body, self.message_at) if self.message_at else None
        status = dotted(body, self.text_status_at) if self.text_status_at else None
        return self.judge(response, error, str(message or ""), auth_only=isinstance(status, str))
