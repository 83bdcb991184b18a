"""A cap on the size of request bodies, checked before and while they are read.

A declared ``Content-Length`` above the cap is refused at once, without reading anything. A body
without one (chunked) is counted as it arrives; the moment the total passes the cap the handler's
read fails, whatever the handler (or FastAPI's body parsing) makes of that failure is discarded,
and the client gets the same 413. If the handler had already started its response before that
point (a streaming echo), nothing more can be said: the response is cut short.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PAYLOAD_TOO_LARGE_CODE = "payload_too_large"
PAYLOAD_TOO_LARGE_MESSAGE = "请求内容过大，请精简后重试"


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when the body passes the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed value is the server's to refuse; we only act on a clear number.
            return int(text) if text.isdigit() else None
    return None


async def send_payload_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "code": PAYLOAD_TOO_LARGE_CODE,
            "message": PAYLOAD_TOO_LARGE_MESSAGE,
            "details": {"limit_bytes": limit},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Pure-ASGI middleware answering 413 ``payload_too_large`` to bodies above ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await send_payload_too_large(send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the handler's answer to a failed read is replaced by our 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            # Whatever escaped is the consequence of the read we made fail.
        if exceeded:
            if started:
                log.warning(
                    "request body passed %s bytes after the response had started; cut short",
                    limit,
                )
            else:
                await send_payload_too_large(send, limit)
