"""The client's real address behind a reverse proxy, trusting only the proxies we were told of.

Only when the direct peer is a trusted proxy are ``X-Forwarded-For`` and ``X-Forwarded-Proto``
believed. The client address is then the right-most ``X-Forwarded-For`` entry that is not itself
a trusted proxy: every entry to its left was written by someone we do not trust (possibly the
client itself), so a client cannot dodge per-address limits by sending its own header. A request
from anywhere else keeps its peer address and scheme, whatever headers it carries.

When uvicorn serves the app, its own proxy-header handling (``--forwarded-allow-ips``) runs
before this middleware; run it with ``--no-proxy-headers`` (or the same trusted list) so that one
place decides.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http", "https"}


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (``10.0.0.0/8``, ``::1``) as networks; raises ValueError."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def parse_address(value: str) -> Address | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:80``."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 peer seen on a dual-stack socket arrives as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The trusted list, with the two decisions the middleware needs."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = parse_networks(entries)

    def trusts(self, host: str | None) -> bool:
        if not host:
            return False
        address = parse_address(host)
        return address is not None and any(address in net for net in self.networks)

    def client_from(self, forwarded_for: str) -> str | None:
        """The right-most untrusted entry of X-Forwarded-For; the left-most if all are trusted.

        None when the header is empty or an entry we would have to believe is not an address.
        """
        entries = [e for e in (part.strip() for part in forwarded_for.split(",")) if e]
        chosen: Address | None = None
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:
                return None
            chosen = address
            if not any(address in net for net in self.networks):
                break
        return None if chosen is None else str(chosen)


class ProxyHeadersMiddleware:
    """Pure-ASGI middleware: sets ``scope["client"]`` and ``scope["scheme"]`` from the
    forwarding headers, only for requests whose direct peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = client[0] if client else None
            if self.proxies.trusts(peer):
                self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> None:
        forwarded_for: list[str] = []
        proto: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1")
        if forwarded_for:
            host = self.proxies.client_from(",".join(forwarded_for))
            if host is None:
                log.debug("ignored an X-Forwarded-For that is not a list of addresses")
            else:
                scope["client"] = (host, 0)
        if proto is not None:
            # The right-most value is the one our own (trusted) proxy wrote.
            scheme = proto.split(",")[-1].strip().lower()
            if scheme in _SCHEMES:
                if scope["type"] == "websocket":
                    scheme = "wss" if scheme == "https" else "ws"
                scope["scheme"] = scheme


def client_ip(request: HTTPConnection) -> str:
    """The client address after proxy handling; ``"unknown"`` when the server gave none."""
    client = request.client
    return client.host if client and client.host else "unknown"
