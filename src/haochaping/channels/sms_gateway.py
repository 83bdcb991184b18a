"""The SMS gateway: an interface, its HTTP implementation, and the signature both directions use.

Our HTTP gateway protocol (the fake gateway of ``sms_fake_gateway`` speaks it too):

- we send: ``POST {url}/sms/send`` with ``{"account", "to", "text", "ref"}`` and get
  ``{"msg_id": "..."}``; any other answer is a failed attempt, retried later;
- the gateway calls back ``POST /api/v1/sms/inbound`` with ``{"msg_id", "from", "text"}`` for a
  rater's reply and ``POST /api/v1/sms/delivery-reports`` with ``{"msg_id", "status":
  "delivered"|"failed", "error"}``.

Every request either way carries ``X-SMS-Timestamp`` (Unix seconds) and ``X-SMS-Signature``,
the lowercase hex HMAC-SM3 under the shared key (``HCP_SMS_SIGNING_KEY``) of
``"{timestamp}\\n"`` followed by the body's bytes.
"""

from __future__ import annotations

import hmac as std_hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from haochaping.clock import utcnow
from haochaping.config import get_settings

HEADER_TIMESTAMP = "X-SMS-Timestamp"
HEADER_SIGNATURE = "X-SMS-Signature"
# Seconds a callback's timestamp may differ from our clock.
TOLERANCE = 300


@dataclass(frozen=True)
class OutgoingSms:
    ref: str
    phone: str
    text: str


class GatewayError(Exception):
    """The gateway did not take the text (unreachable, refused, answered nonsense)."""


class SmsGateway(Protocol):
    def send(self, message: OutgoingSms) -> str:
        """Hand one text to the gateway; returns the gateway's message id, or raises
        ``GatewayError``."""
        ...


def sign(key: str, timestamp: str, body: bytes) -> str:
    mac = crypto_hmac.HMAC(key.encode(), hashes.SM3())
    mac.update(timestamp.encode() + b"\n" + body)
    return mac.finalize().hex()


def signed_headers(key: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: sign(key, timestamp, body)}


def signature_valid(
    key: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> bool:
    """Whether a callback was signed with ``key`` within ``TOLERANCE`` of ``now``."""
    if not key or not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(int(timestamp) - now.timestamp()) > TOLERANCE:
        return False
    expected = sign(key, timestamp, body)
    return std_hmac.compare_digest(expected.encode(), signature.lower().encode())


class HttpGateway:
    """Posts texts to an HTTP SMS gateway (``HCP_SMS_GATEWAY_URL``)."""

    def __init__(
        self,
        url: str,
        *,
        account: str,
        key: str,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.key = key
        self.clock = clock
        self._client = httpx.Client(timeout=timeout)

    def send(self, message: OutgoingSms) -> str:
        body = json.dumps(
            {
                "account": self.account,
                "to": message.phone,
                "text": message.text,
                "ref": message.ref,
            },
            ensure_ascii=False,
        ).encode()
        headers = {"content-type": "application/json"}
        headers.update(signed_headers(self.key, body, self.clock()))
        try:
            response = self._client.post(f"{self.url}/sms/send", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise GatewayError(f"gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise GatewayError(f"gateway answered {response.status_code}")
        try:
            msg_id = response.json()["msg_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GatewayError("gateway answered without msg_id") from exc
        if not isinstance(msg_id, str) or not msg_id:
            raise GatewayError("gateway answered without msg_id")
        return msg_id

    def close(self) -> None:
        self._client.close()


def gateway_from_settings() -> HttpGateway | None:
    """The configured gateway; None when ``HCP_SMS_GATEWAY_URL`` is not set (texts wait)."""
    settings = get_settings()
    if not settings.sms_gateway_url:
        return None
    return HttpGateway(
        settings.sms_gateway_url, account=settings.sms_account, key=settings.sms_signing_key
    )
