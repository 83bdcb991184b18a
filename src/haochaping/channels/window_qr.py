"""The static QR code of a window (ZZ, D2; C8): one stable signed address per window.

Scanning it opens ``/w/<window token>``; the rater gives their phone number, receives a
one-time code by SMS (through the outbox), and after verification sees their own recent cases
at that window, each with the link to its rating page (``via=qr``, D5 code 3). A case is the
rater's when its applicant phone has the same blind index: the clear phone is never compared
in SQL and never shown but masked (C9). The page answers the same whether the phone has cases
or not, so it tells nobody whose cases exist.

    <window id, base 36>.<MAC, 12 bytes of HMAC-SM3, base64url>

The window token has no expiry (it is printed on a placard); its key is derived from the
keyring's blind-index key, which key rotation never changes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping.cases.models import Case, Occasion, OccasionStatus
from haochaping.catalog.models import Hall, Organization, ServiceItem, Window
from haochaping.channels import links
from haochaping.channels.reading import STAGE_NAMES
from haochaping.channels.window_qr_models import WindowQrChallenge
from haochaping.config import get_settings
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.messaging import service as messaging
from haochaping.pii import keyring as pii_keyring
from haochaping.privacy import mask_phone

PATH_PREFIX = "/w/"
MAC_BYTES = 12
MAX_TOKEN_LENGTH = 40
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
# After verification the list is shown for this long without a new code.
SESSION_LIFETIME = timedelta(minutes=30)
# Per phone: one code a minute, five an hour (the routes also limit per address).
RESEND_AFTER = timedelta(seconds=60)
CODES_PER_HOUR = 5
# Cases handled at most this long ago are listed (those still ratable, C7/C8, are younger).
RECENT = timedelta(days=30)
SMS_PURPOSE = "window_qr_code"
_KEY_LABEL = b"haochaping/window-qr/v1"
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class TooFrequent(DomainError):
    status_code = 429


def _key() -> bytes:
    mac = crypto_hmac.HMAC(pii_keyring.current().index_key, hashes.SM3())
    mac.update(_KEY_LABEL)
    return mac.finalize()


def _hmac(label: bytes, payload: str) -> bytes:
    mac = crypto_hmac.HMAC(_key(), hashes.SM3())
    mac.update(label + b"|" + payload.encode("utf-8", "surrogatepass"))
    return mac.finalize()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS36[digit] + out
        if number == 0:
            return out


# --- the window's token and address ----------------------------------------------------------


def window_token(window_id: int) -> str:
    """The stable token of a window's placard."""
    if window_id < 1:
        raise ValueError("window_id must be positive")
    payload = _b36(window_id)
    return f"{payload}.{_b64(_hmac(b'window', payload)[:MAC_BYTES])}"


def window_path(window_id: int) -> str:
    return PATH_PREFIX + window_token(window_id)


def window_url(window_id: int) -> str:
    """What the placard's QR code holds: ``HCP_PUBLIC_BASE_URL`` + ``/w/<token>``."""
    return get_settings().public_base_url.rstrip("/") + window_path(window_id)


def _invalid() -> NotFound:
    return NotFound(
        "window_qr_invalid",
        "二维码无效。请重新扫描窗口张贴的评价二维码，或向窗口工作人员咨询。",
    )


def read_window_token(token: str) -> int:
    """The window id of an authentic token; anything else is ``window_qr_invalid`` (404)."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise _invalid()
    id_part, mac_part = token.split(".")
    if not id_part or len(id_part) > 12 or any(c not in _DIGITS36 for c in id_part):
        raise _invalid()
    try:
        given = base64.urlsafe_b64decode(mac_part + "=" * (-len(mac_part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    expected = _hmac(b"window", id_part)[:MAC_BYTES]
    if not hmac.compare_digest(given, expected) or _b64(given) != mac_part:
        raise _invalid()
    window_id = int(id_part, 36)
    if window_id < 1 or _b36(window_id) != id_part:
        raise _invalid()
    return window_id


def form_token(token: str, purpose: str) -> str:
    """The hidden field of the page's forms (CSRF): derived from the window token."""
    return _b64(_hmac(b"form:" + purpose.encode("ascii"), token)[:16])


def form_token_ok(token: str, purpose: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), form_token(token, purpose).encode("ascii")
    )


# --- the window ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowInfo:
    id: int
    code: str
    name: str
    hall_code: str
    hall_name: str
    org_name: str


def window_info(*, session: Session, window_id: int) -> WindowInfo:
    row = session.execute(
        select(Window.id, Window.code, Window.name, Hall.code, Hall.name, Organization.name)
        .join(Hall, Hall.id == Window.hall_id)
        .join(Organization, Organization.id == Window.org_id)
        .where(Window.id == window_id)
    ).first()
    if row is None:
        raise _invalid()
    return WindowInfo(*row)


def hall_windows(*, session: Session, hall_code: str) -> list[WindowInfo]:
    """Every window of a hall, by code; ``hall_not_found`` when there is no such hall."""
    hall = session.scalar(select(Hall).where(Hall.code == hall_code))
    if hall is None:
        raise NotFound("hall_not_found", f"未找到编码为“{hall_code}”的政务服务大厅")
    rows = session.execute(
        select(Window.id, Window.code, Window.name, Hall.code, Hall.name, Organization.name)
        .join(Hall, Hall.id == Window.hall_id)
        .join(Organization, Organization.id == Window.org_id)
        .where(Window.hall_id == hall.id)
        .order_by(Window.code)
    ).all()
    return [WindowInfo(*r) for r in rows]


# --- one-time codes --------------------------------------------------------------------------


def normalize_phone(phone: str) -> str:
    """An 11-digit mainland mobile number (spaces, dashes and +86 allowed), else refused."""
    digits = re.sub(r"[\s\-]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise InvalidInput("phone_invalid", "请输入正确的11位手机号码。")
    return digits


def _code_hash(public_id: str, code: str) -> str:
    return _hmac(b"code", f"{public_id}:{code}").hex()


def _session_hash(secret: str) -> str:
    return _hmac(b"session", secret).hex()


def request_code(
    *, session: Session, window_id: int, phone: str, now: datetime
) -> WindowQrChallenge:
    """Send a one-time code to ``phone`` (queued SMS), valid 5 minutes for 5 attempts.
    Refused with ``otp_too_frequent`` (429) above one a minute or five an hour per phone."""
    window = window_info(session=session, window_id=window_id)
    clear = normalize_phone(phone)
    index = messaging.phone_index(clear)
    recent = session.execute(
        select(func.count(), func.max(WindowQrChallenge.created_at)).where(
            WindowQrChallenge.phone_index == index,
            WindowQrChallenge.created_at > now - timedelta(hours=1),
        )
    ).one()
    count, last = recent
    if last is not None and now - last < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
        raise TooFrequent(
            "otp_too_frequent",
            f"验证码发送过于频繁，请{wait}秒后再试。",
            details={"retry_after_seconds": wait},
        )
    if count >= CODES_PER_HOUR:
        raise TooFrequent("otp_too_frequent", "该手机号码一小时内获取验证码次数过多，请稍后再试。")
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    public_id = secrets.token_urlsafe(16)
    challenge = WindowQrChallenge(
        public_id=public_id,
        window_id=window.id,
        phone_index=index,
        phone_masked=mask_phone(clear) or "",
        code_hash=_code_hash(public_id, code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(challenge)
    session.flush()
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    messaging.enqueue(
        session=session,
        phone=clear,
        text=(
            f"【政务服务好差评】您的验证码为{code}，{minutes}分钟内有效，用于查看您在"
            f"{window.hall_name}{window.name}办理的事项并评价。如非本人操作，请忽略本短信。"
        ),
        purpose=SMS_PURPOSE,
        ref=f"wqr:{challenge.id}",
        now=now,
    )
    return challenge


def find_challenge(*, session: Session, window_id: int, public_id: str) -> WindowQrChallenge:
    if not _PUBLIC_ID.fullmatch(public_id or ""):
        raise InvalidInput("otp_not_found", "验证码已失效，请重新获取验证码。")
    challenge = session.scalar(
        select(WindowQrChallenge).where(
            WindowQrChallenge.public_id == public_id,
            WindowQrChallenge.window_id == window_id,
        )
    )
    if challenge is None:
        raise InvalidInput("otp_not_found", "验证码已失效，请重新获取验证码。")
    return challenge


def verify_code(
    *, session: Session, window_id: int, public_id: str, code: str, now: datetime
) -> str:
    """Check the code; on success the secret of the list page's session (for a cookie).
    Refusals: ``otp_expired``, ``otp_locked`` after 5 wrong codes, ``otp_wrong``."""
    challenge = find_challenge(session=session, window_id=window_id, public_id=public_id)
    if challenge.verified_at is not None:
        raise InvalidInput("otp_used", "该验证码已使用，请重新获取验证码。")
    if now > challenge.expires_at:
        raise InvalidInput("otp_expired", "验证码已过期（5分钟内有效），请重新获取验证码。")
    if challenge.attempts >= MAX_ATTEMPTS:
        raise InvalidInput("otp_locked", "验证码输入错误次数过多，请重新获取验证码。")
    given = (code or "").strip()
    if not hmac.compare_digest(_code_hash(challenge.public_id, given), challenge.code_hash):
        challenge.attempts += 1
        session.flush()
        left = MAX_ATTEMPTS - challenge.attempts
        if left <= 0:
            raise InvalidInput("otp_locked", "验证码输入错误次数过多，请重新获取验证码。")
        raise InvalidInput(
            "otp_wrong", f"验证码不正确，还可以再试{left}次。", details={"attempts_left": left}
        )
    secret = secrets.token_urlsafe(24)
    challenge.verified_at = now
    challenge.session_hash = _session_hash(secret)
    challenge.session_until = now + SESSION_LIFETIME
    session.flush()
    return secret


def rater_session(
    *, session: Session, window_id: int, secret: str | None, now: datetime
) -> WindowQrChallenge | None:
    """The verified challenge a list-page cookie stands for, if still valid at this window."""
    if not secret or len(secret) > 64:
        return None
    challenge = session.scalar(
        select(WindowQrChallenge).where(WindowQrChallenge.session_hash == _session_hash(secret))
    )
    if (
        challenge is None
        or challenge.window_id != window_id
        or challenge.session_until is None
        or now > challenge.session_until
    ):
        return None
    return challenge


# --- the rater's cases at the window ---------------------------------------------------------


@dataclass(frozen=True)
class MyOccasion:
    case_no: str
    item_name: str
    stage_name: str
    opens_at: datetime
    rate_until: datetime
    rated: bool
    # The rating page (via=qr), when it can still be opened.
    url: str | None


def my_occasions(
    *, session: Session, window_id: int, phone_index: str, now: datetime
) -> list[MyOccasion]:
    """The occasions of the phone's cases handled at this window lately: those still in
    their rating window (C7, or C8's supplementary one) with their links, and those already
    rated by the rater, shown as such. Nothing of anybody else's cases."""
    rows = session.execute(
        select(Occasion.id, Occasion.stage, Occasion.opens_at, Occasion.rate_until)
        .add_columns(Occasion.status, Case.case_no, ServiceItem.name)
        .join(Case, Case.id == Occasion.case_id)
        .join(ServiceItem, ServiceItem.id == Case.item_id)
        .where(
            Case.applicant_phone_index == phone_index,
            Case.window_id == window_id,
            Occasion.opens_at <= now,
            Occasion.opens_at > now - RECENT,
            Occasion.status.in_([OccasionStatus.open.value, OccasionStatus.rated.value]),
        )
        .order_by(Occasion.opens_at.desc(), Occasion.id.desc())
        .limit(50)
    ).all()
    out = []
    for occasion_id, stage, opens_at, rate_until, status, case_no, item_name in rows:
        rated = status == OccasionStatus.rated.value
        if not rated and now > rate_until:
            continue  # the window closed; the sweeper has not caught up yet
        try:
            url = links.occasion_url(
                session=session, occasion_id=occasion_id, now=now, via=links.Via.qr
            )
        except DomainError:
            url = None
        out.append(
            MyOccasion(
                case_no=case_no,
                item_name=item_name,
                stage_name=STAGE_NAMES.get(stage, stage),
                opens_at=opens_at,
                rate_until=rate_until,
                rated=rated,
                url=url,
            )
        )
    return out
