"""The error tree: status table parity, naming, docstring tree, ``requests`` translation,
rendering and redaction."""

from __future__ import annotations

import inspect
import re

import pytest
import requests

from segmentkit import errors
from segmentkit.errors import (
    STATUS_ERRORS,
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    InvalidRecipientError,
    NotFoundError,
    PluginLoadError,
    RateLimitError,
    RequestTimeoutError,
    SegmentkitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperationError,
    ValidationError,
    error_class_for_status,
    translate_requests_error,
)
from segmentkit.redact import Redactor


def _expected_class(status: int) -> type[APIError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if 500 <= status <= 599:
        return ServerError
    if 400 <= status <= 499:
        return APIError
    return UnexpectedResponseError


@pytest.mark.parametrize("status", range(100, 600))
def test_error_class_for_status_matches_parity_table(status):
    assert error_class_for_status(status) is _expected_class(status)


def test_status_table_has_the_documented_entries():
    assert STATUS_ERRORS[400] is ValidationError
    assert STATUS_ERRORS[401] is AuthenticationError
    assert STATUS_ERRORS[404] is NotFoundError
    assert STATUS_ERRORS[429] is RateLimitError
    assert all(400 <= s <= 499 for s in STATUS_ERRORS)


@pytest.mark.parametrize("status", [-1, 0, 99, 600, 999, 10_000])
def test_error_class_for_status_accepts_any_integer(status):
    assert error_class_for_status(status) is UnexpectedResponseError


def _exception_classes():
    return [
        obj
        for name in errors.__all__
        if isinstance(obj := getattr(errors, name), type) and issubclass(obj, BaseException)
    ]


def test_errors_all_lists_every_exception_class_defined_in_the_module():
    defined = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }
    assert defined == {c.__name__ for c in _exception_classes()}


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda c: c.__name__)
def test_every_error_class_ends_in_error_and_subclasses_segmentkit_error(cls):
    assert cls.__name__.endswith("Error")
    assert issubclass(cls, SegmentkitError)


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda c: c.__name__)
def test_every_error_class_has_a_docstring(cls):
    assert inspect.getdoc(cls)


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda c: c.__name__)
def test_errors_module_docstring_tree_names_every_error_class(cls):
    assert re.search(rf"\b{cls.__name__}\b", errors.__doc__ or "")


def test_errors_module_docstring_tree_matches_class_hierarchy():
    """Each name in the drawn tree sits under the parent it subclasses."""
    tree = [
        line
        for line in (errors.__doc__ or "").splitlines()
        if re.search(r"\b[A-Z]\w+Error\b", line) and ("──" in line or line.strip().startswith("S"))
    ]
    stack: list[tuple[int, type]] = []
    checked = 0
    for line in tree:
        match = re.search(r"([A-Z]\w+Error)", line)
        assert match is not None
        cls = getattr(errors, match.group(1))
        depth = match.start()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert cls.__mro__[1] is stack[-1][1], f"{cls.__name__} drawn under {stack[-1][1]}"
            checked += 1
        stack.append((depth, cls))
    assert checked == len(_exception_classes()) - 1


def test_status_table_classes_are_api_errors():
    assert all(issubclass(c, APIError) for c in STATUS_ERRORS.values())


def test_invalid_recipient_error_is_also_a_value_error():
    assert issubclass(InvalidRecipientError, ValueError)
    assert issubclass(PluginLoadError, ConfigurationError)


# ----------------------------------------------------------------------------- translation


def _requests_exception_classes():
    return sorted(
        (
            obj
            for name in dir(requests.exceptions)
            if isinstance(obj := getattr(requests.exceptions, name), type)
            and issubclass(obj, requests.exceptions.RequestException)
        ),
        key=lambda c: c.__name__,
    )


def test_requests_exception_walk_finds_the_known_classes():
    names = {c.__name__ for c in _requests_exception_classes()}
    assert {"ConnectTimeout", "ReadTimeout", "SSLError", "ChunkedEncodingError"} <= names


def _instantiate(exc_cls):
    if issubclass(exc_cls, requests.exceptions.JSONDecodeError):
        return exc_cls("boom", "{", 0)  # json's signature: (msg, doc, pos)
    return exc_cls("boom")


@pytest.mark.parametrize("exc_cls", _requests_exception_classes(), ids=lambda c: c.__name__)
def test_translate_requests_error_maps_every_requests_exception(exc_cls):
    exc = _instantiate(exc_cls)
    ours = translate_requests_error(exc, provider="memory", method="GET", url="https://x.test/")
    assert isinstance(ours, TransportError)
    assert type(ours) is not TransportError, "must be a specific subclass"
    if issubclass(exc_cls, requests.exceptions.Timeout):
        assert isinstance(ours, RequestTimeoutError)
    else:
        assert isinstance(ours, ConnectionFailedError)
    assert exc_cls.__name__ in str(ours)
    assert ours.provider == "memory"


def test_translate_requests_error_of_unknown_subclass_is_connection_failed():
    class Odd(requests.exceptions.RequestException):
        pass

    assert isinstance(translate_requests_error(Odd()), ConnectionFailedError)


def test_transport_error_str_shows_provider_method_and_url():
    err = TransportError("connection failed", provider="memory", method="GET", url="https://h/x")
    assert str(err) == "memory: connection failed (GET https://h/x)"
    assert err.request_sent is True


# ----------------------------------------------------------------------------- rendering


def test_api_error_str_shows_provider_status_and_message():
    err = NotFoundError("no such segment", provider="memory", status_code=404)
    assert str(err) == "memory: 404 no such segment"
    assert "NotFoundError" in repr(err)
    assert "no such segment" in repr(err)


def test_api_error_str_joins_messages_and_field_errors():
    err = ValidationError(
        provider="memory",
        status_code=422,
        messages=["invalid input", "try again"],
        field_errors={"name": ["is required"], "email": ["bad", "format"]},
    )
    assert str(err) == "memory: 422 invalid input; try again (name: is required; email: bad format)"
    assert err.messages == ["invalid input", "try again"]


def test_api_error_without_anything_names_its_class():
    assert str(ServerError()) == "ServerError"
    assert str(APIError("failed inside 200", provider="p")) == "p: failed inside 200"


def test_api_error_message_becomes_messages():
    assert APIError("x").messages == ["x"]
    assert APIError().messages == []


def test_unsupported_operation_error_names_provider_operation_and_hint():
    err = UnsupportedOperationError("memory", "creating a segment", "Use the web app.")
    assert str(err) == (
        "memory: creating a segment is not supported by this platform's API. Use the web app."
    )
    assert (err.provider, err.operation) == ("memory", "creating a segment")


SECRET = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([SECRET])


def test_registered_secret_never_shows_in_api_error_str_or_repr(redactor):
    err = AuthenticationError(
        f"key {SECRET} rejected",
        provider="memory",
        status_code=401,
        field_errors={"api_key": [SECRET]},
    )
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert "***" in str(err)


def test_registered_secret_never_shows_in_api_error_built_from_messages(redactor):
    err = APIError(provider="memory", status_code=400, messages=[f"bad token {SECRET}"])
    assert SECRET not in str(err)


def test_registered_secret_never_shows_in_transport_error(redactor):
    err = ConnectionFailedError(
        f"refused {SECRET}", provider="memory", method="GET", url=f"https://h/?k={SECRET}"
    )
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert all(SECRET not in str(a) for a in err.args)


def test_translated_requests_error_never_shows_registered_secret(redactor):
    ours = translate_requests_error(
        requests.exceptions.ConnectionError(f"failed {SECRET}"), url=f"https://h/{SECRET}"
    )
    assert SECRET not in str(ours)
