"""The fake of the ``memory`` reference platform: a clean JSON REST API over in-memory state.

Routes (below ``/v1/``, header ``X-Api-Key``): ``GET segments`` (``page``, ``per_page`` ≤ 100,
``q``), ``GET/PATCH/DELETE segments/{id}``, ``POST segments`` (honours ``Idempotency-Key``),
``GET/POST segments/{id}/members`` (members upserted by email), and
``POST segments/{id}/members/delete``.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from .app import FakePlatform, json_response

__all__ = ["MemoryPlatform"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class _Segment:
    id: int
    name: str
    type: str = "list"
    rules: list[dict[str, Any]] = field(default_factory=list)
    match: str = "all"
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> member
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "rules": self.rules,
            "match": self.match,
            "member_count": len(self.members),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class MemoryPlatform(FakePlatform):
    """Stateful fake of the reference platform. ``api_key`` is the default account's key."""

    provider = "memory"
    base_path = "/v1/"
    secret_headers = frozenset({"x-api-key", "authorization"})

    def __init__(self, *, seed: int = 0, api_key: str | None = None) -> None:
        super().__init__(seed=seed)
        rng = random.Random(seed)
        self.api_key = api_key or self.new_key(rng)
        self.segments: dict[int, _Segment] = {}
        self._next_segment = 1
        self._next_member = 1
        self._idempotency: dict[str, dict[str, Any]] = {}

    # -- seeding and inspection

    def dsn_for(self, base_url: str, account: Any = None) -> str:
        key = account or self.api_key
        scheme = "memory+http" if base_url.startswith("http://") else "memory"
        return f"{scheme}://{key}@{base_url.split('://', 1)[1]}"

    def add_segment(
        self,
        name: str,
        *,
        members: list[dict[str, Any]] | None = None,
        rules: list[dict[str, Any]] | None = None,
    ) -> int:
        """Seed a segment; returns its id."""
        with self.lock:
            seg = _Segment(
                id=self._next_segment,
                name=name,
                type="rules" if rules else "list",
                rules=rules or [],
            )
            self._next_segment += 1
            for m in members or []:
                self._upsert(seg, m)
            self.segments[seg.id] = seg
            return seg.id

    def bad_dsn(self, base_url: str) -> str:
        return self.dsn_for(base_url, "0" * 32)

    def seed_segment(self, name: str, recipients: Any = ()) -> str:
        members = [
            {"email": r.email, "first_name": r.first_name, "last_name": r.last_name}
            for r in recipients
        ]
        return str(self.add_segment(name, members=members))

    def member_identities(self, segment_id: str) -> list[str]:
        return self.member_emails(segment_id)

    def segment_ids(self) -> list[str]:
        with self.lock:
            return [str(i) for i in self.segments]

    def member_emails(self, segment_id: int | str) -> list[str]:
        """The emails of a segment's members (for assertions)."""
        with self.lock:
            return sorted(self.segments[int(segment_id)].members)

    def _upsert(self, seg: _Segment, member: dict[str, Any]) -> bool:
        email = str(member.get("email") or "").lower()
        if not email or email in seg.members:
            return False
        seg.members[email] = {"id": self._next_member, **member, "email": email}
        self._next_member += 1
        return True

    # -- routes

    def setup_routes(self) -> None:
        self.route("GET", r"segments", self.list_segments)
        self.route("POST", r"segments", self.create_segment)
        self.route("GET", r"segments/(?P<sid>[^/]+)", self.get_segment)
        self.route("PATCH", r"segments/(?P<sid>[^/]+)", self.update_segment)
        self.route("DELETE", r"segments/(?P<sid>[^/]+)", self.delete_segment)
        self.route("GET", r"segments/(?P<sid>[^/]+)/members", self.list_members)
        self.route("POST", r"segments/(?P<sid>[^/]+)/members", self.add_members)
        self.route("POST", r"segments/(?P<sid>[^/]+)/members/delete", self.remove_members)

    def rate_limited(self, retry_after: float) -> Response:
        return json_response(
            {"error": {"code": "rate_limited", "message": "slow down"}},
            429,
            {"Retry-After": f"{retry_after:g}"},
        )

    def _error(self, status: int, code: str, message: str) -> Response:
        return json_response({"error": {"code": code, "message": message}}, status)

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("X-Api-Key") != self.api_key:
            return self._error(401, "unauthorized", "invalid API key")
        return None

    def _seg(self, sid: str) -> _Segment | Response:
        seg = self.segments.get(int(sid)) if sid.isdigit() else None
        return seg if seg is not None else self._error(404, "not_found", "no such segment")

    def _owned(self, request: Request, sid: str) -> _Segment | Response:
        """The segment ``sid`` for an authenticated request, or the error answer."""
        denied = self._auth(request)
        return denied if denied is not None else self._seg(sid)

    @staticmethod
    def _paged(request: Request, items: list[dict[str, Any]]) -> Response:
        try:
            page = max(1, int(request.args.get("page", "1")))
            per_page = min(100, max(1, int(request.args.get("per_page", "25"))))
        except ValueError:
            page, per_page = 1, 25
        total = len(items)
        pages = math.ceil(total / per_page)
        chunk = items[(page - 1) * per_page : page * per_page]
        return json_response({"items": chunk, "page": page, "total_pages": pages, "total": total})

    def list_segments(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        q = (request.args.get("q") or "").casefold()
        items = [
            s.wire()
            for s in sorted(self.segments.values(), key=lambda s: s.id)
            if q in s.name.casefold()
        ]
        return self._paged(request, items)

    def get_segment(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        return seg if isinstance(seg, Response) else json_response(seg.wire())

    def create_segment(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        key = request.headers.get("Idempotency-Key")
        if key and key in self._idempotency:
            return json_response(self._idempotency[key], 201)
        body = request.get_json(silent=True) or {}
        name = str(body.get("name") or "").strip()
        if not name:
            return self._error(422, "invalid", "name is required")
        sid = self.add_segment(name, members=body.get("members"), rules=body.get("rules"))
        seg = self.segments[sid]
        seg.match = body.get("match", "all")
        wire = seg.wire()
        if key:
            self._idempotency[key] = wire
        return json_response(wire, 201)

    def update_segment(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        if isinstance(seg, Response):
            return seg
        body = request.get_json(silent=True) or {}
        if "name" in body:
            seg.name = str(body["name"])
        if "match" in body:
            seg.match = str(body["match"])
        if "rules" in body:
            seg.rules = list(body["rules"])
        if "members" in body:
            seg.members.clear()
            for m in body["members"]:
                self._upsert(seg, m)
        seg.updated_at = _now()
        return json_response(seg.wire())

    def delete_segment(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        if isinstance(seg, Response):
            return seg
        del self.segments[seg.id]
        return Response(b"", status=204)

    def list_members(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        if isinstance(seg, Response):
            return seg
        return self._paged(request, sorted(seg.members.values(), key=lambda m: m["id"]))

    def add_members(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        if isinstance(seg, Response):
            return seg
        if seg.type == "rules":
            return self._error(409, "conflict", "members of a rules segment follow its rules")
        try:
            members = json.loads(request.get_data() or b"{}").get("members") or []
        except ValueError:
            return self._error(400, "invalid", "body is not JSON")
        key = request.headers.get("Idempotency-Key")
        if key and key in self._idempotency:
            return json_response(self._idempotency[key])
        results = [{"status": "added" if self._upsert(seg, m) else "exists"} for m in members]
        answer = {"results": results}
        if key:
            self._idempotency[key] = answer
        return json_response(answer)

    def remove_members(self, request: Request, sid: str) -> Response:
        seg = self._owned(request, sid)
        if isinstance(seg, Response):
            return seg
        body = request.get_json(silent=True) or {}
        results = []
        for m in body.get("members") or []:
            email = str(m.get("email") or "").lower()
            if not email and m.get("id") is not None:
                email = next(
                    (e for e, v in seg.members.items() if str(v["id"]) == str(m["id"])), ""
                )
            if email and seg.members.pop(email, None) is not None:
                results.append({"status": "removed"})
            else:
                results.append({"status": "absent"})
        return json_response({"results": results})
