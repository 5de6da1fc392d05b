"""Small independent loopback servers written from API-SPEC.md (not from our fakes, which share
our assumptions), for the data-loss tests. Each runs ``http.server`` in a thread on 127.0.0.1
and records every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server:
    """Shared plumbing: a thread-safe request log and a JSON answer helper."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if m not in ("GET", "HEAD")]

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], headers: Any
    ) -> tuple[int, Any]:
        raise NotImplementedError

    @contextmanager
    def serve(self) -> Iterator[str]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _any(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                form = _form(self.headers.get("Content-Type") or "", body)
                with server.lock:
                    server.log.append((self.command, parts.path))
                status, answer = server.handle(self.command, parts.path, query, form, self.headers)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _any  # noqa: N815

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/api/"
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


def _form(ctype: str, body: bytes) -> dict[str, str]:
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        out: dict[str, str] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                out[str(name)] = part.get_content().strip() if part.get_content() else ""
        return out
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    return {}


class Allstech(_Server):
    """API-SPEC Part 2: ``{"status","message"}`` envelopes on HTTP 200, PublicKey/SecretKey,
    one store per recipient, delete by segment_recipient_id (§2.2, §2.3, §2.7)."""

    PUBLIC, SECRET = "pub-hostile-0001", "sec-hostile-0001"

    def __init__(self, store_delay: float = 0.0) -> None:
        super().__init__()
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.serial = 100
        self.store_delay = store_delay
        #: called (outside the lock) after each store is applied, with the count so far
        self.on_store: Any = None
        self.stores = 0

    def seed(self, sid: int, emails: list[str]) -> None:
        self.rows[sid] = []
        for e in emails:
            self.serial += 1
            self.rows[sid].append(
                {
                    "id": self.serial,
                    "segment_id": sid,
                    "email": e,
                    "first_name": "F",
                    "last_name": "L",
                }
            )

    def emails(self, sid: int) -> list[str]:
        return sorted(r["email"] for r in self.rows[sid])

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], headers: Any
    ) -> tuple[int, Any]:
        if headers.get("PublicKey") != self.PUBLIC or headers.get("SecretKey") != self.SECRET:
            return 200, {
                "status": "failed",
                "errors": {"PublicKey": ["The selected public key is invalid."]},
            }
        if method == "POST" and path == "/api/segment/email/store":
            return self._store(form)
        with self.lock:
            if method == "GET" and path == "/api/segment/list":
                segs = [
                    {
                        "id": sid,
                        "user_id": 1,
                        "contact_type_id": 1,
                        "segment_name": f"s{sid}",
                        "select_field": [],
                        "select_operator": [],
                        "value": [],
                        "query_type": None,
                        "deleted_at": None,
                        "created_at": "2024-01-01T00:00:00.000000Z",
                        "updated_at": "2024-01-01T00:00:00.000000Z",
                        "segment_emails_count": len(rows),
                    }
                    for sid, rows in self.rows.items()
                ]
                return 200, {"status": "success", "message": {"segments": segs}}
            if method == "GET" and path == "/api/segment/email/list":
                sid = int(query.get("segment_id") or 0)
                if sid not in self.rows:
                    return 200, {"status": "failed", "errors": "Record not found"}
                return 200, {"status": "success", "message": {"contactEmails": self.rows[sid]}}
            if method == "DELETE" and path == "/api/segment/email/delete":
                rid = int(query.get("segment_recipient_id") or 0)
                for rows in self.rows.values():
                    for r in rows:
                        if r["id"] == rid:
                            rows.remove(r)
                            return 200, {"status": "success", "message": "Deleted Successfully"}
                return 200, {"status": "failed", "errors": "Record Not Found"}
        return 404, {"message": f"The route {path.lstrip('/')} could not be found."}

    def _store(self, form: dict[str, str]) -> tuple[int, Any]:
        missing = {
            k: [f"The {k.replace('_', ' ')} field is required."]
            for k in ("first_name", "last_name", "email")
            if not form.get(k)
        }
        if missing:
            return 200, {"status": "failed", "errors": missing}
        sid = int(form.get("segment_id") or 0)
        with self.lock:
            self.serial += 1
            self.rows.setdefault(sid, []).append(
                {
                    "id": self.serial,
                    "segment_id": sid,
                    "email": form["email"],
                    "first_name": form["first_name"],
                    "last_name": form["last_name"],
                }
            )
            self.stores += 1
            count = self.stores
        if self.on_store is not None:
            self.on_store(count)
        if self.store_delay:
            threading.Event().wait(self.store_delay)
        return 200, {"status": "success", "message": "Added Successfully"}


class SixtySix(_Server):
    """API-SPEC Part 1 (66text, documented build where updates work): Bearer key, ``{"data"}``
    envelopes, bulk segments holding ``settings.phone_numbers`` replaced whole on update (§1.6),
    paged contacts with ``meta``/``links`` (§1.5), error envelopes (§1.3)."""

    KEY = "hostile-key-0001"

    def __init__(self) -> None:
        super().__init__()
        self.segments: dict[int, dict[str, Any]] = {}

    def seed_bulk(self, sid: int, phones: list[str]) -> None:
        self.segments[sid] = {
            "id": sid,
            "user_id": 1,
            "name": f"s{sid}",
            "type": "bulk",
            "settings": {"phone_numbers": list(phones), "contacts_ids": []},
            "total_contacts": 0,
            "last_datetime": None,
            "datetime": "2024-01-01 00:00:00",
        }

    def phones(self, sid: int) -> list[str]:
        return list(self.segments[sid]["settings"]["phone_numbers"])

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], headers: Any
    ) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {self.KEY}":
            return 401, {"errors": [{"title": "You do not have access to the API.", "status": 401}]}
        parts = path.strip("/").split("/")
        with self.lock:
            if parts[:2] == ["api", "contacts"] and method == "GET" and len(parts) == 2:
                return 200, {
                    "data": [],
                    "meta": {
                        "page": 1,
                        "results_per_page": 1000,
                        "total_results": 0,
                        "total_pages": 0,
                    },
                    "links": {"next": None},
                }
            if parts[:2] == ["api", "segments"] and len(parts) == 3 and parts[2].isdigit():
                seg = self.segments.get(int(parts[2]))
                if seg is None:
                    return 404, {
                        "errors": [
                            {
                                "title": "The resource you are looking for does not exist.",
                                "status": 404,
                            }
                        ]
                    }
                if method == "GET":
                    return 200, {"data": seg}
                if method == "POST":
                    if form.get("type", seg["type"]) == "bulk":
                        phones = [p for p in (form.get("phone_numbers") or "").split(",") if p]
                        seg["settings"] = {"phone_numbers": phones, "contacts_ids": []}
                    if form.get("name"):
                        seg["name"] = form["name"]
                    seg["last_datetime"] = "2024-01-02 00:00:00"
                    return 200, {"data": {k: v for k, v in seg.items() if k != "name"}}
        return 404, {
            "errors": [{"title": "The resource you are looking for does not exist.", "status": 404}]
        }
