"""HMAC-SM3 request signatures of business systems.

A signed request carries five headers::

    X-HCP-Client:    the client's code
    X-HCP-Key-Id:    which of its keys signed (two are valid while a key rotates)
    X-HCP-Timestamp: Unix seconds; refused beyond ``TOLERANCE`` either way
    X-HCP-Nonce:     8-64 characters [A-Za-z0-9_-], never used twice by the client
    X-HCP-Signature: lowercase hex HMAC-SM3(secret, canonical string)

and the canonical string is, joined by ``\\n``: the method in capitals, the path with its raw
query string (``/api/v1/evaluations?page=2``), the timestamp, the nonce, and the lowercase hex
SM3 of the body (of the empty string when there is none). ``docs/signing.md`` has an example.
"""

from __future__ import annotations

import hmac as std_hmac
import re
import secrets
from collections.abc import Callable, Generator
from datetime import datetime

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from haochaping.clock import utcnow

HEADER_CLIENT = "X-HCP-Client"
HEADER_KEY_ID = "X-HCP-Key-Id"
HEADER_TIMESTAMP = "X-HCP-Timestamp"
HEADER_NONCE = "X-HCP-Nonce"
HEADER_SIGNATURE = "X-HCP-Signature"
SIGNED_HEADERS = (HEADER_CLIENT, HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

# Seconds a timestamp may differ from the server's clock.
TOLERANCE = 300
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def canonical_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), path, timestamp, nonce, sm3_hex(body))).encode()


def signature(secret: str, canonical: bytes) -> str:
    mac = crypto_hmac.HMAC(secret.encode(), hashes.SM3())
    mac.update(canonical)
    return mac.finalize().hex()


def signatures_match(expected: str, given: str) -> bool:
    return std_hmac.compare_digest(expected.encode(), given.lower().encode())


def sign_headers(
    *,
    client: str,
    kid: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one request (for business systems, tests and the benchmark)."""
    timestamp = str(int((now or utcnow()).timestamp()))
    nonce = nonce or secrets.token_urlsafe(18)
    canonical = canonical_string(method, path, timestamp, nonce, body)
    return {
        HEADER_CLIENT: client,
        HEADER_KEY_ID: kid,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, canonical),
    }


class SignedAuth(httpx.Auth):
    """httpx authentication that signs every request: ``httpx.Client(auth=SignedAuth(...))``."""

    requires_request_body = True

    def __init__(
        self, client: str, kid: str, secret: str, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.client, self.kid, self.secret, self.clock = client, kid, secret, clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode()
        request.headers.update(
            sign_headers(
                client=self.client,
                kid=self.kid,
                secret=self.secret,
                method=request.method,
                path=path,
                body=request.content,
                now=self.clock(),
            )
        )
        yield request
