"""Rate limits for public entry points, declared per route as a FastAPI dependency.

A route declares its limit where it is defined::

    @router.post("/login", dependencies=[Depends(RateLimit("login", "10/minute"))])

    @router.post(
        "/cases/{case_no}/evaluate",
        dependencies=[
            Depends(RateLimit("evaluate", "30/minute")),
            Depends(RateLimit("evaluate-case", "5/minute", per="case", case_param="case_no")),
        ],
    )

``per="ip"`` counts per client address (after trusted-proxy handling, see ``proxies``);
``per="case"`` counts per value of ``case_param``, looked up in the path parameters, then the
query string, then the top level of a JSON object body; without one it counts per address.
Limits with the same name and the same rate share one budget, so two routes can draw on one.
A per-case limit does not stop one client from trying many cases: pair it with a per-address one.

The counters live in ``app.state.rate_limiter`` (see ``install``): in process memory by default,
or in Redis (``HCP_RATE_LIMIT_STORAGE=redis://host:6379``) so that all workers share them. If the
storage cannot be reached the request is let through and the failure logged: an outage of the
counters must not take the public service down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from haochaping.errors import DomainError
from haochaping.protection.proxies import client_ip

log = logging.getLogger(__name__)

RATE_LIMITED_CODE = "rate_limited"
RATE_LIMITED_MESSAGE = "操作过于频繁，请稍后再试"
# Longer case values are hashed so that a client cannot make us store huge keys.
_MAX_KEY_PART = 128
# Seconds to wait for a networked storage before letting the request through.
_STORAGE_TIMEOUT = 1.0


class RateLimited(DomainError):
    """429 ``rate_limited``; carries the ``Retry-After`` header for the response."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            RATE_LIMITED_CODE,
            RATE_LIMITED_MESSAGE,
            details={"retry_after_seconds": retry_after},
        )
        self.retry_after = retry_after
        self.headers: dict[str, str] = {"Retry-After": str(retry_after)}


async def rate_limited_handler(_: Request, exc: Exception) -> JSONResponse:
    """The error body every other refusal has, plus the exception's headers."""
    if not isinstance(exc, RateLimited):  # registered for RateLimited only
        raise exc
    body = {"code": exc.code, "message": exc.message, "details": jsonable_encoder(exc.details)}
    return JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)


class Limiter:
    """The storage and the strategy (moving window) behind every ``RateLimit``."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        options: dict[str, float] = {}
        if storage_uri.split("://", 1)[0].startswith(("redis", "rediss", "valkey")):
            # Settings in the URI's query string take precedence over these.
            options = {
                "socket_timeout": _STORAGE_TIMEOUT,
                "socket_connect_timeout": _STORAGE_TIMEOUT,
            }
        self.storage_uri = storage_uri
        self.storage = storage_from_string(storage_uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        # In-process counters cost microseconds; anything networked goes to a worker thread
        # so that a slow storage never blocks the event loop.
        self._inline = isinstance(self.storage, MemoryStorage)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Counts one request; None if allowed, else the seconds until one more would be."""
        try:
            if self._inline:
                return self._hit(item, identifiers)
            return await run_in_threadpool(self._hit, item, identifiers)
        except Exception as exc:
            log.error(
                "rate limit storage %s failed (%s); request let through",
                self.storage.__class__.__name__,
                type(exc).__name__,
            )
            return None

    def _hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int | None:
        if self.strategy.hit(item, *identifiers):
            return None
        stats = self.strategy.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def reset(self) -> None:
        """Forgets every counter (an operator after an incident). On Redis this clears the
        counters of every worker sharing it."""
        self.storage.reset()


def _key_part(value: str) -> str:
    if len(value) <= _MAX_KEY_PART:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class RateLimit:
    """A FastAPI dependency refusing with 429 ``rate_limited`` above ``limit``.

    ``limit`` is in the ``limits`` notation: ``"10/minute"``, ``"100/hour"``,
    ``"5 per 10 seconds"``.
    """

    def __init__(
        self,
        name: str,
        limit: str,
        *,
        per: Literal["ip", "case"] = "ip",
        case_param: str | None = None,
    ) -> None:
        if not name or "/" in name:
            raise ValueError("a rate limit needs a name without '/'")
        if per == "case" and not case_param:
            raise ValueError("per='case' needs case_param")
        if per == "ip" and case_param is not None:
            raise ValueError("case_param is only for per='case'")
        self.name = name
        self.limit = limit
        self.per = per
        self.case_param = case_param
        self.item: RateLimitItem = parse(limit)

    def __repr__(self) -> str:
        extra = f", per={self.per!r}, case_param={self.case_param!r}" if self.per == "case" else ""
        return f"RateLimit({self.name!r}, {self.limit!r}{extra})"

    async def __call__(self, request: Request) -> None:
        limiter: Limiter | None = getattr(request.app.state, "rate_limiter", None)
        if limiter is None:
            # Disabled by settings, or an app built without ``install`` (some tests).
            return
        kind, value = await self._subject(request)
        retry_after = await limiter.hit(self.item, self.name, kind, _key_part(value))
        if retry_after is not None:
            log.info("rate limit %s reached for %s", self.name, kind)
            raise RateLimited(retry_after)

    async def _subject(self, request: Request) -> tuple[str, str]:
        if self.per == "case" and self.case_param:
            value = await _case_value(request, self.case_param)
            if value:
                return "case", value
        return "ip", client_ip(request)


async def _case_value(request: Request, param: str) -> str | None:
    value = request.path_params.get(param)
    if value is None:
        value = request.query_params.get(param)
    if value is None and request.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            try:
                # FastAPI has read the body already when the route takes one: it is cached.
                body: Any = await request.json()
            except Exception:
                body = None
            if isinstance(body, dict):
                value = body.get(param)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value) or None


def route_rate_limits(route: object) -> list[RateLimit]:
    """The limits a route declares, directly or through nested / router-level dependencies.

    ``route`` is an ``APIRoute`` or one of the route contexts ``api_routes`` yields.
    """
    dependant = getattr(route, "dependant", None)
    seen: set[int] = set()

    def walk(node: Any) -> Iterator[RateLimit]:
        for dep in getattr(node, "dependencies", ()):
            call = getattr(dep, "call", None)
            if isinstance(call, RateLimit) and id(call) not in seen:
                seen.add(id(call))
                yield call
            yield from walk(dep)

    return list(walk(dependant)) if dependant is not None else []


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of the app as served, with the prefixes and dependencies of the routers
    it was included through (FastAPI >= 0.130 keeps included routers lazily)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[Any] = iter_contexts(app.routes) if iter_contexts else app.routes
    return [r for r in routes if getattr(r, "dependant", None) is not None]


def unlimited_routes(app: FastAPI) -> list[str]:
    """``"METHOD /path"`` of every API route declaring no rate limit (for a guard test)."""
    return [
        f"{','.join(sorted(route.methods or ()))} {route.path}"
        for route in api_routes(app)
        if not route_rate_limits(route)
    ]
