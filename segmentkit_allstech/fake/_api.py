"""HTTP side of the allstech fake: routes, Laravel's throttle and the vendor's key
middleware, the ``{"status", "message"|"errors"}`` envelopes and their HTTP statuses, and
Laravel's/nginx's error pages (API-SPEC 2.1-2.3, 2.7). State and rules live in
:mod:`._state`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from werkzeug.wrappers import Request, Response

from segmentkit.testing.app import FakePlatform, FixedWindowLimiter, json_response

from ._state import AllstechAccount, AllstechState, Answer

__all__ = ["AllstechApi", "FailureStatus"]

#: How failures are answered: HTTP 200 with ``"status": "failed"`` (the documented examples,
#: Unknowns 2) or ``"4xx"`` (401/404/422; a 200 for an injected exception either way).
FailureStatus = Literal["200", "4xx"]
_STATUS = {"auth": 401, "not_found": 404, "validation": 422, "exception": 200}

Operation = Callable[[Request, AllstechAccount], Answer]


class AllstechApi(AllstechState, FakePlatform):
    """The allstech routes below ``/api/`` over :class:`AllstechState`; options are set by
    :class:`~segmentkit_allstech.fake.AllstechPlatform`."""

    provider = "allstech"
    base_path = "/api/"
    secret_headers = frozenset({"publickey", "secretkey", "authorization"})

    failure_status: FailureStatus
    limiter: FixedWindowLimiter | None
    #: Epoch seconds, for ``X-RateLimit-Reset``.
    clock: Callable[[], float]

    # ------------------------------------------------------------------ envelopes

    def respond(self, answer: Answer) -> Response:
        """``answer`` in the platform's envelope, with the status its failure kind has."""
        if answer.failure is None:
            return json_response({"status": "success", answer.key: answer.payload})
        status = 200 if self.failure_status == "200" else _STATUS[answer.failure]
        return json_response({"status": "failed", "errors": answer.payload}, status)

    def rate_limited(self, retry_after: float) -> Response:
        # An injected 429 (faults): Laravel's body and headers, the fault's own (possibly
        # sub-second) Retry-After, so fault matrices stay fast; no epoch Reset.
        return json_response(
            {"message": "Too Many Attempts."},
            429,
            {
                "Retry-After": f"{retry_after:g}",
                "X-RateLimit-Limit": str(self.limiter.limit if self.limiter else 60),
                "X-RateLimit-Remaining": "0",
            },
        )

    def throttled(self, retry_after: float) -> Response:
        """The limiter's own 429: Laravel's ThrottleRequests answer to a JSON client
        (API-SPEC 2.7): whole-second Retry-After, X-RateLimit-Reset as an epoch timestamp,
        Remaining 0."""
        wait = max(1, math.ceil(retry_after))
        return json_response(
            {"message": "Too Many Attempts."},
            429,
            {
                "X-RateLimit-Limit": str(self.limiter.limit if self.limiter else 60),
                "X-RateLimit-Remaining": "0",
                "Retry-After": str(wait),
                "X-RateLimit-Reset": str(int(self.clock()) + wait),
            },
        )

    def server_error(self, status: int) -> Response:
        if status == 503:  # Laravel maintenance mode answers JSON to a JSON client (guess)
            return json_response({"message": "Service Unavailable"}, 503)
        if status == 500:  # Laravel's production error page
            body = (
                '<!DOCTYPE html><html lang="en"><head><title>Server Error</title></head>'
                '<body><div class="code">500</div><div class="message">Server Error</div>'
                "</body></html>"
            )
        else:  # the nginx in front of it
            reason = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(status, "Error")
            body = (
                f"<html><head><title>{status} {reason}</title></head><body><center><h1>"
                f"{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
            )
        return Response(body, status=status, content_type="text/html; charset=UTF-8")

    def not_found(self, request: Request) -> Response:
        rel = self.relative(request.path)
        allowed = [m for m in ("GET", "POST", "DELETE") if self._find(m, rel)[0] is not None]
        if allowed:
            return json_response(
                {
                    "message": f"The {request.method.upper()} method is not supported for route "
                    f"api/{rel}. Supported methods: {', '.join(allowed)}."
                },
                405,
            )
        return json_response({"message": f"The route api/{rel} could not be found."}, 404)

    # ------------------------------------------------------------------ routes

    def setup_routes(self) -> None:
        api = self._api
        self.route("GET", r"segment/list", api(lambda rq, acc: self.segment_list(acc)))
        self.route(
            "GET",
            r"segment/email/list",
            api(lambda rq, acc: self.recipient_list(acc, rq.args.get("segment_id"))),
        )
        self.route(
            "POST",
            r"segment/email/store",
            api(lambda rq, acc: self.store_recipient(acc, self.form(rq))),
        )
        # API-SPEC 2.5.2: the docs' URL has a stray space; the real path has none.
        self.route(
            "DELETE",
            r"segment/email/delete",
            api(lambda rq, acc: self.delete_recipient(acc, rq.args.get("segment_recipient_id"))),
        )
        self.route(
            "DELETE",
            r"segment/delete",
            api(lambda rq, acc: self.delete_segment(acc, rq.args.get("segment_id"))),
        )
        self.route("GET", r"contacts-type", api(lambda rq, acc: self.contact_types(acc)))
        self.route(
            "GET",
            r"contacts-type/view",
            api(lambda rq, acc: self.contact_type(acc, rq.args.get("contact_type_id"))),
        )
        self.route("GET", r"contacts/list", api(lambda rq, acc: self.contacts(acc)))
        self.route("GET", r"reserve-fields", api(lambda rq, acc: self.reserve_fields(acc)))

    def _api(self, operation: Operation) -> Callable[[Request], Response]:
        """Laravel's ``throttle:api`` before the key check — per client IP, across keys,
        failed-auth requests counted, Limit/Remaining on every answer (API-SPEC 2.7) — then
        the key middleware, then ``operation``."""

        def handler(request: Request) -> Response:
            remaining: int | None = None
            if self.limiter is not None:
                allowed, remaining, reset = self.limiter.hit(request.remote_addr or "?")
                if not allowed:
                    return self.throttled(reset)
            account = self.authenticate(
                request.headers.get("PublicKey", ""), request.headers.get("SecretKey", "")
            )
            if isinstance(account, Answer):
                resp = self.respond(account)
            else:
                resp = self.respond(operation(request, account))
            if self.limiter is not None:
                resp.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
                resp.headers["X-RateLimit-Remaining"] = str(remaining)
            return resp

        return handler
