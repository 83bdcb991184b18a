"""Request body cap: 413 ``payload_too_large`` before or while reading, handler never run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from haochaping.app import create_app
from haochaping.config import Settings
from haochaping.db import Database
from haochaping.protection import install
from haochaping.protection.body_limit import BodyLimitMiddleware

LIMIT = 100


class Item(BaseModel):
    text: str


def _app(calls: list[str]) -> FastAPI:
    app = FastAPI()
    install(app, Settings(max_body_bytes=LIMIT))

    @app.post("/items")
    def post_item(item: Item) -> dict[str, int]:
        calls.append("items")
        return {"length": len(item.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        calls.append("raw")
        return {"length": len(body)}

    return app


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.json() == {
        "code": "payload_too_large",
        "message": "请求内容过大，请精简后重试",
        "details": {"limit_bytes": LIMIT},
    }


def test_small_body_passes() -> None:
    calls: list[str] = []
    response = TestClient(_app(calls)).post("/items", json={"text": "好评"})
    assert response.status_code == 200
    assert calls == ["items"]


def test_body_exactly_at_the_limit_passes() -> None:
    calls: list[str] = []
    response = TestClient(_app(calls)).post("/raw", content=b"x" * LIMIT)
    assert response.json() == {"length": LIMIT}


def test_declared_length_above_limit_is_refused_before_reading() -> None:
    calls: list[str] = []
    response = TestClient(_app(calls)).post("/items", json={"text": "很" * LIMIT})
    _assert_413(response)
    assert calls == []


def test_chunked_body_is_refused_while_reading() -> None:
    calls: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 20
        yield b'"}'

    response = TestClient(_app(calls)).post(
        "/items", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    _assert_413(response)
    assert calls == []


def test_chunked_body_refused_for_a_handler_reading_the_raw_body() -> None:
    calls: list[str] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 30

    _assert_413(TestClient(_app(calls)).post("/raw", content=chunks()))
    assert calls == []


def test_chunked_body_within_the_limit_passes() -> None:
    calls: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield b"a" * 40
        yield b"b" * 40

    response = TestClient(_app(calls)).post("/raw", content=chunks())
    assert response.json() == {"length": 80}
    assert calls == ["raw"]


def test_streaming_response_started_before_overflow_is_cut_short() -> None:
    """A handler that answers while still reading cannot be given a 413 any more."""
    sent: list[Message] = []

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            await send({"type": "http.response.body", "body": b"ok", "more_body": True})
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b""})

    parts = [b"z" * 60, b"z" * 60]

    async def receive() -> Message:
        body = parts.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(parts)}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(echo, max_bytes=LIMIT)
    asyncio.run(middleware({"type": "http", "headers": []}, receive, send))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert all(m.get("status") != 413 for m in sent)


def test_negative_limit_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        BodyLimitMiddleware(FastAPI(), max_bytes=-1)


async def _async_chunks() -> AsyncIterator[bytes]:
    for _ in range(5):
        yield b"q" * 50


def test_async_stream_against_the_app() -> None:
    calls: list[str] = []

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app(calls))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/raw", content=_async_chunks())

    _assert_413(asyncio.run(post()))
    assert calls == []


def test_create_app_caps_bodies(committed_db: Database) -> None:
    app = create_app(db=committed_db, tick_interval=0)
    limit = Settings().max_body_bytes
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/cases",
            content=b"{" + b" " * limit + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["details"] == {"limit_bytes": limit}
