"""Platforms that answer 401 for refused input as well as for a bad key.

Some platforms (66text, API-SPEC 1.3) send HTTP 401 both when the credentials are wrong and
when they refuse what was sent (missing fields, plan limits), with titles a brand may
translate. A client whose key has already been accepted cannot have a bad key, so
:class:`KeyProof` turns a 401 on a later write into the input being refused.
"""

from __future__ import annotations

from collections.abc import Collection

import requests

from ..errors import APIError, AuthenticationError, ValidationError

__all__ = ["KeyProof"]


class KeyProof:
    """What this client's history says about an authentication failure.

    ``auth_messages`` are the messages the platform sends only for authentication problems
    (they stay :class:`AuthenticationError`); ``refusal`` is the class a 401 on a write
    (``writes``) becomes once any answer succeeded.
    """

    def __init__(
        self,
        *,
        auth_messages: Collection[str] = (),
        refusal: type[APIError] = ValidationError,
        writes: Collection[str] = ("POST", "PUT", "PATCH"),
    ) -> None:
        self.auth_messages = frozenset(auth_messages)
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
