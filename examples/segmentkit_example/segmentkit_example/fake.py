"""A stateful fake of the Smoke Signals platform, built on segmentkit's test kit."""

from __future__ import annotations

import random
from typing import Any

from werkzeug.wrappers import Request, Response

from segmentkit.testing import FakePlatform, json_response

__all__ = ["SmokeSignalsPlatform"]


class SmokeSignalsPlatform(FakePlatform):
    """Lists of subscribers keyed by MSISDN; cursor pagination; duplicates allowed on POST."""

    provider = "example"
    base_path = "/v2/"
    secret_headers = frozenset({"x-token"})

    def __init__(self, *, seed: int = 0, page_size: int = 50) -> None:
        super().__init__(seed=seed)
        self.token = self.new_key(random.Random(seed))
        self.page_size = page_size
        self.lists: dict[str, dict[str, Any]] = {}
        self.subscribers: dict[str, list[dict[str, str]]] = {}

    # -- the standard seeding protocol

    def dsn_for(self, base_url: str, account: Any = None) -> str:
        scheme = "example+http" if base_url.startswith("http://") else "example"
        return f"{scheme}://{account or self.token}@{base_url.split('://', 1)[1]}"

    def bad_dsn(self, base_url: str) -> str:
        return self.dsn_for(base_url, "wrong-token")

    def seed_segment(self, name: str, recipients: Any = ()) -> str:
        with self.lock:
            lid = f"L{len(self.lists) + 1:04d}"
            self.lists[lid] = {"id": lid, "title": name}
            self.subscribers[lid] = [
                {"msisdn": r.phone, "name": r.display_name} for r in recipients
            ]
            return lid

    def member_identities(self, segment_id: str) -> list[str]:
        with self.lock:
            return [s["msisdn"] for s in self.subscribers[segment_id]]

    def segment_ids(self) -> list[str]:
        with self.lock:
            return list(self.lists)

    # -- the API

    def setup_routes(self) -> None:
        self.route("GET", r"lists", self.get_lists)
        self.route("GET", r"lists/(?P<lid>[^/]+)", self.get_list)
        self.route("GET", r"lists/(?P<lid>[^/]+)/subscribers", self.get_subscribers)
        self.route("POST", r"lists/(?P<lid>[^/]+)/subscribers", self.post_subscriber)
        self.route("GET", r"lists/(?P<lid>[^/]+)/subscribers/(?P<msisdn>[^/]+)", self.get_sub)
        self.route("DELETE", r"lists/(?P<lid>[^/]+)/subscribers/(?P<msisdn>[^/]+)", self.del_sub)

    def _denied(self, request: Request) -> Response | None:
        if request.headers.get("X-Token") != self.token:
            return json_response({"message": "bad token"}, 401)
        return None

    def _page(self, items: list[dict[str, Any]], request: Request, key: str) -> Response:
        start = int(request.args.get("cursor") or 0)
        chunk = items[start : start + self.page_size]
        nxt = start + self.page_size
        return json_response({key: chunk, "next_cursor": str(nxt) if nxt < len(items) else None})

    def _list(self, lid: str) -> dict[str, Any] | None:
        found = self.lists.get(lid)
        return None if found is None else {**found, "size": len(self.subscribers[lid])}

    def get_lists(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        return self._page([self._list(lid) or {} for lid in self.lists], request, "lists")

    def get_list(self, request: Request, lid: str) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        found = self._list(lid)
        return json_response(found) if found else json_response({"message": "no list"}, 404)

    def get_subscribers(self, request: Request, lid: str) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if lid not in self.lists:
            return json_response({"message": "no list"}, 404)
        return self._page(self.subscribers[lid], request, "subscribers")

    def post_subscriber(self, request: Request, lid: str) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if lid not in self.lists:
            return json_response({"message": "no list"}, 404)
        msisdn = request.form.get("msisdn", "")
        if not msisdn.startswith("+"):
            return json_response({"message": "msisdn must be E.164"}, 422)
        self.subscribers[lid].append({"msisdn": msisdn, "name": request.form.get("name", "")})
        return json_response({"msisdn": msisdn}, 201)

    def get_sub(self, request: Request, lid: str, msisdn: str) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        for s in self.subscribers.get(lid, []):
            if s["msisdn"] == msisdn:
                return json_response(s)
        return json_response({"message": "no subscriber"}, 404)

    def del_sub(self, request: Request, lid: str, msisdn: str) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        subs = self.subscribers.get(lid, [])
        kept = [s for s in subs if s["msisdn"] != msisdn]
        if len(kept) == len(subs):
            return json_response({"message": "no subscriber"}, 404)
        self.subscribers[lid] = kept
        return Response(b"", status=204)
