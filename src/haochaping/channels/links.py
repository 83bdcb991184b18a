"""Signed, expiring links to the unified rating page for one occasion (一事一评, D2, D3).

A link is ``/r/<token>``; the token names the occasion and the moment the link stops working,
and carries an HMAC-SM3 over both, so nobody can point it at another occasion or make it live
longer. Nothing is stored: the server checks the MAC and the expiry on every request. The key
is derived from the keyring's blind-index key (``haochaping keys``), which key rotation never
changes, so links already sent by SMS or printed on receipts keep working after a rotation.

    <occasion id, base 36>.<expiry, Unix seconds in base 36>.<MAC, 12 bytes base64url>

The link lives as long as the occasion can be rated (its ``rate_until``: the C7 default or the
C8 supplementary window, whichever ends first) and, where the profile allows a follow-up (C6),
as long as a rating made at the last moment could still be followed up, so the rater can come
back through the same link.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sqlalchemy.orm import Session

from haochaping.calendar.service import add_duration
from haochaping.cases import service as cases
from haochaping.clock import BEIJING
from haochaping.config import get_settings
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.evaluations.models import Channel
from haochaping.pii import keyring as pii_keyring
from haochaping.policy import service as policy

PATH_PREFIX = "/r/"
MAC_BYTES = 12
_KEY_LABEL = b"haochaping/occasion-link/v1"
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# Longest token we even look at: two base-36 numbers and the MAC, with room to spare.
MAX_TOKEN_LENGTH = 64


class Via(StrEnum):
    """How the rater reached the page; the page's D5 channel code follows from it."""

    qr = "qr"
    terminal = "terminal"
    sms = "sms"


VIA_CHANNELS = {Via.qr: Channel.qr, Via.terminal: Channel.hall_terminal, Via.sms: Channel.sms}


class LinkInvalid(DomainError):
    status_code = 404


class LinkExpired(DomainError):
    status_code = 410


@dataclass(frozen=True)
class LinkClaim:
    """What a verified token says: the occasion and until when the link works."""

    occasion_id: int
    expires_at: datetime


def _link_key() -> bytes:
    mac = crypto_hmac.HMAC(pii_keyring.current().index_key, hashes.SM3())
    mac.update(_KEY_LABEL)
    return mac.finalize()


def _mac(payload: str) -> bytes:
    mac = crypto_hmac.HMAC(_link_key(), hashes.SM3())
    mac.update(b"occasion|" + payload.encode("ascii"))
    return mac.finalize()[:MAC_BYTES]


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("negative")
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS36[digit] + out
        if number == 0:
            return out


def _from_b36(text: str) -> int:
    if not text or len(text) > 13 or any(c not in _DIGITS36 for c in text):
        raise ValueError("not base 36")
    return int(text, 36)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def occasion_link_token(occasion_id: int, expires_at: datetime) -> str:
    """A token for ``occasion_id`` that works until ``expires_at`` (whole seconds)."""
    if occasion_id < 1:
        raise ValueError("occasion_id must be positive")
    payload = f"{_b36(occasion_id)}.{_b36(int(expires_at.timestamp()))}"
    return f"{payload}.{_b64(_mac(payload))}"


def _invalid() -> LinkInvalid:
    return LinkInvalid(
        "link_invalid",
        "评价链接无效。请核对链接是否完整，或向办理单位重新获取评价链接。",
    )


def read_token(token: str) -> LinkClaim:
    """The claim of an authentic token, expired or not; a forged or damaged one is refused."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid()
    occasion_part, expiry_part, mac_part = parts
    payload = f"{occasion_part}.{expiry_part}"
    try:
        given = base64.urlsafe_b64decode(mac_part + "=" * (-len(mac_part) % 4))
        occasion_id, expiry = _from_b36(occasion_part), _from_b36(expiry_part)
        payload.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise _invalid() from exc
    # Compare before trusting anything the token says; the canonical spelling is required so
    # that one link has exactly one token.
    if not hmac.compare_digest(given, _mac(payload)) or _b64(given) != mac_part:
        raise _invalid()
    if occasion_id < 1 or _b36(occasion_id) != occasion_part or _b36(expiry) != expiry_part:
        raise _invalid()
    return LinkClaim(occasion_id=occasion_id, expires_at=datetime.fromtimestamp(expiry, UTC))


def verify_token(token: str, *, now: datetime) -> LinkClaim:
    """The claim of a token that is authentic and not expired; otherwise a refusal with a
    Chinese message (``link_invalid`` 404, ``link_expired`` 410)."""
    claim = read_token(token)
    if now > claim.expires_at:
        until = claim.expires_at.astimezone(BEIJING)
        raise LinkExpired(
            "link_expired",
            f"评价链接已于{until:%Y年%m月%d日 %H:%M}过期，不能再评价。"
            "如对本次服务有意见或建议，可拨打12345政务服务便民热线反映。",
            details={"expired_at": claim.expires_at.isoformat()},
        )
    return claim


def link_expiry(*, session: Session, occasion_id: int) -> datetime:
    """Until when the link of an occasion works: its rating window (C7/C8), extended by the
    follow-up window (C6) where the profile has one."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is None:
        raise NotFound(
            "occasion_not_found", "未找到该评价场次", details={"occasion_id": occasion_id}
        )
    profile = policy.get_profile(name=target.profile_name)
    until = target.rate_until
    if profile.follow_up_window is not None:
        until = add_duration(session=session, start=until, duration=profile.follow_up_window).at
    return until


def occasion_url(
    *, session: Session, occasion_id: int, now: datetime, via: Via | None = None
) -> str:
    """The path of the rating page of one occasion, ``/r/<token>`` (``?via=`` when given);
    callers put their public base URL in front. Refused once the link could no longer work."""
    expires_at = link_expiry(session=session, occasion_id=occasion_id)
    if now > expires_at:
        raise InvalidInput(
            "rating_window_closed",
            "该办件的评价期限已过，无法评价",
            details={"occasion_id": occasion_id, "rate_until": expires_at.isoformat()},
        )
    path = PATH_PREFIX + occasion_link_token(occasion_id, expires_at)
    return f"{path}?{urlencode({'via': via.value})}" if via is not None else path


def allowed_return_url(url: str | None) -> str | None:
    """A terminal's home page if its origin is on ``HCP_TERMINAL_RETURN_ORIGINS``, else None:
    the page never sends a browser to an address a link merely carries (no open redirect)."""
    if not url or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    if any(c in url for c in "\r\n\t\\") or parts.password is not None:
        return None
    origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")
    allowed = set(get_settings().terminal_return_origins)
    return url if origin.lower() in allowed else None


def form_token(token: str) -> str:
    """The hidden field of the page's forms: proof that a submission comes from a page this
    server rendered for this very link (CSRF; the link itself is the only credential)."""
    mac = crypto_hmac.HMAC(_link_key(), hashes.SM3())
    mac.update(b"form|" + token.encode("utf-8", "surrogatepass"))
    return _b64(mac.finalize()[:16])


def form_token_ok(token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), form_token(token).encode("ascii")
    )
