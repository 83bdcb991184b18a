"""Abuse protection: rate limits, body size limits, trusted proxies."""

from __future__ import annotations

from fastapi import FastAPI

from haochaping.config import Settings
from haochaping.protection.body_limit import BodyLimitMiddleware
from haochaping.protection.proxies import ProxyHeadersMiddleware, client_ip
from haochaping.protection.ratelimit import (
    Limiter,
    RateLimit,
    RateLimited,
    api_routes,
    rate_limited_handler,
    route_rate_limits,
    unlimited_routes,
)

__all__ = [
    "Limiter",
    "RateLimit",
    "RateLimited",
    "api_routes",
    "client_ip",
    "install",
    "route_rate_limits",
    "unlimited_routes",
]


def install(app: FastAPI, settings: Settings) -> None:
    """Wires the protections into ``app``: client address, body cap, rate-limit counters."""
    app.state.rate_limiter = (
        Limiter(settings.rate_limit_storage) if settings.rate_limits_enabled else None
    )
    app.add_exception_handler(RateLimited, rate_limited_handler)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: every layer below sees the real client address.
    app.add_middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies)
