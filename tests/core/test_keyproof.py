"""http.keyproof.KeyProof: a 401 on a write is refused input once the key has worked (66text,
API-SPEC 1.3), driven with plain responses."""

from __future__ import annotations

import requests

from segmentkit.errors import AuthenticationError, NotFoundError, ValidationError
from segmentkit.http.keyproof import KeyProof


def _response(status: int, method: str = "POST") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.request = requests.Request(method, "https://x.test/").prepare()
    return r


def test_a_401_on_a_write_is_refused_input_only_after_the_key_worked() -> None:
    proof = KeyProof(auth_messages=("No access",))
    auth = AuthenticationError("Devi compilare", status_code=401)
    assert proof.judge(_response(401), auth, "Devi compilare") is auth  # key not proven yet
    assert proof.judge(_response(200, "GET"), None, "") is None
    assert proof.accepted
    refused = proof.judge(_response(401), auth, "Devi compilare")
    assert type(refused) is ValidationError
    assert "Devi compilare" in str(refused)
    assert refused.status_code == 401


def test_what_stays_an_authentication_error() -> None:
    proof = KeyProof(auth_messages=("No access",))
    proof.accepted = True
    auth = AuthenticationError("x", status_code=401)
    assert proof.judge(_response(401, "GET"), auth, "x") is auth  # not a write
    assert proof.judge(_response(401), auth, "No access") is auth  # an auth-only message
    assert proof.judge(_response(401), auth, "x", auth_only=True) is auth
    other = NotFoundError("gone", status_code=404)
    assert proof.judge(_response(404), other, "gone") is other


def test_a_failed_answer_does_not_prove_the_key() -> None:
    proof = KeyProof()
    proof.judge(_response(401, "GET"), AuthenticationError("bad", status_code=401), "bad")
    proof.judge(_response(302, "GET"), None, "")
    assert not proof.accepted
