"""A real local SMS gateway for tests and demos: an HTTP server in a thread that speaks the
protocol of ``sms_gateway`` (``POST /sms/send``), records what it was given, fails on demand,
and posts delivery reports and raters' replies back to the service, signed with the shared key.

``haochaping sms fake-gateway --port 9010`` runs one; ``GET /sms/messages`` lists what it got
and ``POST /sms/reply`` ``{"from", "text"}`` makes a "rater" reply through it.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import httpx

from haochaping.channels.sms_gateway import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    signature_valid,
    signed_headers,
)
from haochaping.clock import utcnow

log = logging.getLogger(__name__)

INBOUND_PATH = "/api/v1/sms/inbound"
REPORTS_PATH = "/api/v1/sms/delivery-reports"


class Poster(Protocol):
    """What the fake posts callbacks with: an ``httpx.Client`` (or a FastAPI ``TestClient``)."""

    def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> Any: ...


@dataclass
class Received:
    msg_id: str
    to: str
    text: str
    ref: str
    account: str


@dataclass
class FakeGateway:
    """The fake gateway's state; ``start()`` serves it on ``host:port`` (0 = any free port)."""

    key: str
    account: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    clock: Callable[[], datetime] = utcnow
    # Where callbacks go (the service's base URL) and how they are posted.
    callback: Poster | None = None
    # Post a "delivered" report right after each text is taken.
    auto_report: bool = False
    messages: list[Received] = field(default_factory=list)
    failures_left: int = 0
    rejected_signatures: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake gateway first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def fail_next(self, n: int = 1) -> None:
        """The next ``n`` sends are answered 503."""
        with self._lock:
            self.failures_left = n

    def start(self) -> FakeGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                log.debug(format, *args)

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path != "/sms/messages":
                    self._answer(404, {"error": "not found"})
                    return
                with gateway._lock:
                    listed = [m.__dict__ for m in gateway.messages]
                self._answer(200, listed)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/sms/send":
                    status, answer = gateway._take(body, dict(self.headers.items()))
                elif self.path == "/sms/reply":
                    status, answer = gateway._relay_reply(body)
                else:
                    status, answer = 404, {"error": "not found"}
                self._answer(status, answer)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _take(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        if not signature_valid(
            self.key,
            lower.get(HEADER_TIMESTAMP.lower()),
            lower.get(HEADER_SIGNATURE.lower()),
            body,
            self.clock(),
        ):
            with self._lock:
                self.rejected_signatures += 1
            return 401, {"error": "bad signature"}
        try:
            data = json.loads(body)
            to, text, ref = str(data["to"]), str(data["text"]), str(data.get("ref", ""))
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad request"}
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return 503, {"error": "temporarily unavailable"}
            received = Received(
                f"fake-{next(self._ids)}", to, text, ref, str(data.get("account", ""))
            )
            self.messages.append(received)
        if self.auto_report and self.callback is not None:
            threading.Thread(
                target=self.report, args=(received.msg_id, "delivered"), daemon=True
            ).start()
        return 200, {"msg_id": received.msg_id}

    def _relay_reply(self, body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body)
            phone, text = str(data["from"]), str(data["text"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad request"}
        if self.callback is None:
            return 409, {"error": "no callback configured"}
        response = self.reply(phone, text)
        return 200, {"status": response.status_code, "answer": response.json()}

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        assert self.callback is not None, "the fake gateway has no callback to post to"
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"content-type": "application/json"}
        headers.update(signed_headers(self.key, body, self.clock()))
        return self.callback.post(path, content=body, headers=headers)

    def report(self, msg_id: str, status: str, error: str | None = None) -> Any:
        """Post a delivery report for one text back to the service."""
        return self._post(REPORTS_PATH, {"msg_id": msg_id, "status": status, "error": error})

    def reply(self, phone: str, text: str, msg_id: str | None = None) -> Any:
        """Post a rater's reply from ``phone`` back to the service."""
        with self._lock:
            msg_id = msg_id or f"in-{next(self._ids)}"
        return self._post(INBOUND_PATH, {"msg_id": msg_id, "from": phone, "text": text})


def http_callback(base_url: str) -> httpx.Client:
    """Callbacks to a running service at ``base_url``."""
    return httpx.Client(base_url=base_url.rstrip("/"), timeout=10.0)
