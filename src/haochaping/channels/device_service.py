"""Counter rating devices (评价器): pairing, the device credential, and the "service ended"
signals that make a window's device show the rating screen (D1, D3, D4).

C10: whoever sends a signal learns only whether it was rated, never how. The level stays in
the evaluation, which this module never reads.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.audit.service import record
from haochaping.cases import service as cases
from haochaping.cases.models import Case, Occasion, OccasionStatus
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Hall, Staff, Window
from haochaping.channels.device_models import CounterDevice, DeviceSignal, SignalStatus
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound

# No 0/O, 1/I/L: the code is read off a screen or a slip of paper and typed on a touch screen.
PAIRING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PAIRING_LENGTH = 8
PAIRING_VALID = timedelta(hours=24)
# A signal not shown within this time is dropped: the citizen has gone.
SIGNAL_WAIT = timedelta(minutes=5)
# Once shown, the longest a rating screen may stay open (the page itself returns to idle
# after a minute without input).
SCREEN_LIMIT = timedelta(minutes=10)
# A device whose event stream polled this recently counts as connected.
CONNECTED_WITHIN = timedelta(seconds=45)
MAX_CREDENTIAL_LENGTH = 100


class DeviceUnpaired(DomainError):
    status_code = 401


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_code(code: str) -> str:
    """A pairing code as typed (spaces, dashes, lower case) in its stored form."""
    return "".join(c for c in code.upper() if c not in " -\t")


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class DeviceInfo:
    """A paired, unrevoked device and the window it serves."""

    id: int
    name: str
    window_id: int
    window_code: str
    window_name: str
    hall_name: str


@dataclass(frozen=True)
class DeviceRow:
    id: int
    name: str
    window_code: str
    state: str
    created_at: datetime
    paired_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Queued:
    signal_id: int
    device_connected: bool
    expires_at: datetime


@dataclass(frozen=True)
class PendingSignal:
    id: int


# ---- devices --------------------------------------------------------------------------------


def add_device(
    *,
    session: Session,
    window_code: str,
    name: str,
    now: datetime,
    actor: str,
    valid: timedelta = PAIRING_VALID,
) -> tuple[CounterDevice, str]:
    """A new device for a window, with its one-time pairing code (returned once, stored only
    as a hash)."""
    window = catalog.get_window(session=session, code=window_code)
    code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_LENGTH))
    device = CounterDevice(
        window_id=window.id,
        name=name.strip()[:100],
        pairing_hash=_sha256(code),
        pairing_expires_at=now + valid,
        created_at=now,
        created_by=actor[:100],
    )
    session.add(device)
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action="device_added",
        target=f"device:{device.id}",
        details={"window": window.code},
    )
    return device, code


def _state(device: CounterDevice, now: datetime) -> str:
    if device.revoked_at is not None:
        return "revoked"
    if device.token_hash is None:
        expired = device.pairing_expires_at is not None and now > device.pairing_expires_at
        return "pairing_expired" if expired else "awaiting_pairing"
    return "paired"


def list_devices(*, session: Session, now: datetime) -> list[DeviceRow]:
    """Every device with its window and state (no secrets)."""
    rows = session.execute(
        select(CounterDevice, Window.code)
        .join(Window, Window.id == CounterDevice.window_id)
        .order_by(CounterDevice.id)
    ).all()
    return [
        DeviceRow(
            id=d.id,
            name=d.name,
            window_code=code,
            state=_state(d, now),
            created_at=d.created_at,
            paired_at=d.paired_at,
            last_seen_at=d.last_seen_at,
            revoked_at=d.revoked_at,
        )
        for d, code in rows
    ]


def revoke_device(*, session: Session, device_id: int, now: datetime, actor: str) -> None:
    """Revoke a device at once: its next request or poll finds it unpaired."""
    device = session.get(CounterDevice, device_id)
    if device is None:
        raise NotFound("device_not_found", f"未找到评价器 {device_id}")
    if device.revoked_at is not None:
        raise Conflict("device_already_revoked", f"评价器 {device_id} 已停用")
    device.revoked_at = now
    device.pairing_hash = None
    session.flush()
    record(session, now=now, actor=actor, action="device_revoked", target=f"device:{device_id}")


def _info(session: Session, device: CounterDevice) -> DeviceInfo:
    row = session.execute(
        select(Window.code, Window.name, Hall.name)
        .join(Hall, Hall.id == Window.hall_id)
        .where(Window.id == device.window_id)
    ).one()
    return DeviceInfo(device.id, device.name, device.window_id, row[0], row[1], row[2])


def pair(*, session: Session, code: str, now: datetime, ip: str = "") -> tuple[DeviceInfo, str]:
    """Use a pairing code once; the answer is the device's credential for its cookie."""
    wanted = normalise_code(code)
    device = None
    if len(wanted) == PAIRING_LENGTH:
        device = session.scalars(
            select(CounterDevice).where(CounterDevice.pairing_hash == _sha256(wanted))
        ).one_or_none()
    if (
        device is None
        or device.revoked_at is not None
        or device.pairing_expires_at is None
        or now > device.pairing_expires_at
    ):
        # One answer for unknown, used and expired codes: no oracle for guessing.
        raise InvalidInput(
            "pairing_code_invalid", "配对码无效或已过期，请向系统管理员重新获取配对码。"
        )
    secret = secrets.token_urlsafe(32)
    device.token_hash = _sha256(secret)
    device.pairing_hash = None
    device.paired_at = now
    device.last_seen_at = now
    session.flush()
    record(
        session,
        now=now,
        actor="system",
        action="device_paired",
        target=f"device:{device.id}",
        ip=ip,
    )
    return _info(session, device), f"{device.id}.{secret}"


def _unpaired() -> DeviceUnpaired:
    return DeviceUnpaired("device_not_paired", "本设备尚未配对或已被停用，请输入配对码。")


def device_for_credential(*, session: Session, credential: str | None) -> DeviceInfo:
    """The device whose cookie this is; ``device_not_paired`` (401) otherwise, at once after a
    revocation."""
    if not credential or len(credential) > MAX_CREDENTIAL_LENGTH or "." not in credential:
        raise _unpaired()
    id_part, secret = credential.split(".", 1)
    if not id_part.isdigit() or len(id_part) > 10:
        raise _unpaired()
    device = session.get(CounterDevice, int(id_part))
    if (
        device is None
        or device.revoked_at is not None
        or device.token_hash is None
        or not hmac.compare_digest(device.token_hash, _sha256(secret))
    ):
        raise _unpaired()
    return _info(session, device)


def still_paired(*, session: Session, device_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    CounterDevice.id == device_id,
                    CounterDevice.revoked_at.is_(None),
                    CounterDevice.token_hash.is_not(None),
                )
            )
        )
    )


def touch(*, session: Session, device_id: int, now: datetime) -> None:
    """The device is listening (for ``device_connected``)."""
    session.execute(
        update(CounterDevice)
        .where(CounterDevice.id == device_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


# ---- signals --------------------------------------------------------------------------------


def _window_in_scope(session: Session, window: Window, scope: Scope) -> bool:
    if scope.everything:
        return True
    if scope.org_ids or scope.region_paths:
        region = session.scalar(select(Hall.region_code).where(Hall.id == window.hall_id))
        if region is not None and scope.contains_org(session, window.org_id, region):
            return True
    if scope.staff_ids:
        # A window clerk: their own window.
        return bool(
            session.scalar(
                select(
                    exists().where(
                        Staff.id.in_(sorted(scope.staff_ids)), Staff.window_id == window.id
                    )
                )
            )
        )
    return False


def _window(session: Session, window_code: str, scope: Scope) -> Window:
    window = session.scalars(select(Window).where(Window.code == window_code)).one_or_none()
    if window is None or not _window_in_scope(session, window, scope):
        raise NotFound("window_not_found", f"未找到窗口“{window_code}”")
    return window


def _expired(signal: DeviceSignal, now: datetime) -> bool:
    return signal.status in (SignalStatus.waiting, SignalStatus.shown) and now > signal.expires_at


def signal_service_ended(
    *,
    session: Session,
    window_code: str,
    case_no: str,
    stage: str | None,
    scope: Scope,
    now: datetime,
    sender: str,
) -> Queued:
    """Queue the rating screen of the case's open occasion for the window's device. A second
    signal for the same occasion while the first still waits is the first; a signal for another
    occasion replaces any still waiting at that window (that citizen has gone)."""
    window = _window(session, window_code, scope)
    occasion = cases.find_occasion(session=session, case_no=case_no, stage=stage, scope=scope)
    case_window = session.scalar(select(Case.window_id).where(Case.case_no == case_no))
    if case_window is not None and case_window != window.id:
        raise InvalidInput(
            "case_not_at_window",
            "该办件不是在此窗口办理的，不能在此窗口的评价器上评价",
            details={"case_no": case_no, "window_code": window_code},
        )
    if occasion.status != OccasionStatus.open.value:
        raise Conflict(
            "occasion_not_open",
            "该办件此环节已评价或评价期已结束，无需再请办事群众评价",
            details={"case_no": case_no, "stage": occasion.stage},
        )
    if now < occasion.opens_at:
        raise InvalidInput(
            "occasion_not_yet_open",
            "该环节尚未办理完成，办理后才能评价",
            details={"case_no": case_no, "stage": occasion.stage},
        )
    if now > occasion.rate_until:
        raise InvalidInput(
            "rating_window_closed",
            "该办件的评价期限已过，无法评价",
            details={"case_no": case_no, "stage": occasion.stage},
        )
    live = session.scalars(
        select(DeviceSignal)
        .where(
            DeviceSignal.window_id == window.id,
            DeviceSignal.status.in_([SignalStatus.waiting.value, SignalStatus.shown.value]),
        )
        .order_by(DeviceSignal.id)
    ).all()
    same = [s for s in live if s.occasion_id == occasion.id and not _expired(s, now)]
    if same:
        signal = same[-1]
    else:
        for old in live:
            if old.status == SignalStatus.waiting.value:
                old.status = SignalStatus.not_rated.value
                old.finished_at = now
        signal = DeviceSignal(
            window_id=window.id,
            occasion_id=occasion.id,
            status=SignalStatus.waiting.value,
            created_at=now,
            expires_at=now + SIGNAL_WAIT,
            sender=sender[:100],
        )
        session.add(signal)
    session.flush()
    connected = bool(
        session.scalar(
            select(
                exists().where(
                    CounterDevice.window_id == window.id,
                    CounterDevice.revoked_at.is_(None),
                    CounterDevice.token_hash.is_not(None),
                    CounterDevice.last_seen_at >= now - CONNECTED_WITHIN,
                )
            )
        )
    )
    return Queued(signal.id, connected, signal.expires_at)


def _occasion_in_scope(session: Session, occasion_id: int, scope: Scope) -> bool:
    if scope.everything:
        return True
    found = session.execute(
        select(Occasion.case_id, Occasion.bundle_id).where(Occasion.id == occasion_id)
    ).one_or_none()
    if found is None:
        return False
    which = (
        Case.id == found.case_id if found.case_id is not None else Case.bundle_id == found.bundle_id
    )
    return bool(session.scalar(select(exists().where(which, scope.case_clause()))))


def signal_status(*, session: Session, signal_id: int, scope: Scope, now: datetime) -> SignalStatus:
    """Whether the citizen rated (C10: nothing of how). A signal outside the caller's windows
    and cases is as if it did not exist."""
    signal = session.get(DeviceSignal, signal_id)
    window = session.get(Window, signal.window_id) if signal is not None else None
    if (
        signal is None
        or window is None
        or not _window_in_scope(session, window, scope)
        or not _occasion_in_scope(session, signal.occasion_id, scope)
    ):
        raise NotFound("signal_not_found", "未找到该评价信号", details={"signal_id": signal_id})
    if _expired(signal, now):
        return SignalStatus.not_rated
    return SignalStatus(signal.status)


def pending_signals(
    *, session: Session, window_id: int, after_id: int, now: datetime, limit: int = 5
) -> list[PendingSignal]:
    """Signals waiting for the window's device, newer than the last one it received."""
    ids = session.scalars(
        select(DeviceSignal.id)
        .where(
            DeviceSignal.window_id == window_id,
            DeviceSignal.id > after_id,
            DeviceSignal.status == SignalStatus.waiting.value,
            DeviceSignal.expires_at >= now,
        )
        .order_by(DeviceSignal.id)
        .limit(limit)
    ).all()
    return [PendingSignal(i) for i in ids]


def _gone(signal_id: int) -> Conflict:
    return Conflict(
        "signal_gone",
        "本次评价已结束或已超时，请等待下一次办理。",
        details={"signal_id": signal_id},
    )


def _signal_of(session: Session, device: DeviceInfo, signal_id: int) -> DeviceSignal:
    signal = session.get(DeviceSignal, signal_id)
    if signal is None or signal.window_id != device.window_id:
        raise NotFound("signal_not_found", "未找到该评价信号", details={"signal_id": signal_id})
    return signal


def claim_signal(*, session: Session, device: DeviceInfo, signal_id: int, now: datetime) -> int:
    """Put the signal on this device's screen (once: another device of the window cannot take
    it); the occasion to rate."""
    signal = _signal_of(session, device, signal_id)
    shown_here = signal.status == SignalStatus.shown.value and signal.device_id == device.id
    if shown_here and now <= signal.expires_at:
        return signal.occasion_id
    if signal.status == SignalStatus.waiting.value and now <= signal.expires_at:
        claimed = session.execute(
            update(DeviceSignal)
            .where(DeviceSignal.id == signal_id, DeviceSignal.status == SignalStatus.waiting.value)
            .values(
                status=SignalStatus.shown.value,
                device_id=device.id,
                shown_at=now,
                expires_at=now + SCREEN_LIMIT,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            session.expire(signal)
            return signal.occasion_id
    raise _gone(signal_id)


def shown_occasion(*, session: Session, device: DeviceInfo, signal_id: int, now: datetime) -> int:
    """The occasion of a signal this device shows now (a submission must come from one)."""
    signal = _signal_of(session, device, signal_id)
    if (
        signal.status != SignalStatus.shown.value
        or signal.device_id != device.id
        or now > signal.expires_at
    ):
        raise _gone(signal_id)
    return signal.occasion_id


def finish_signal(
    *, session: Session, device: DeviceInfo, signal_id: int, rated: bool, now: datetime
) -> None:
    """The screen closed: rated, or left without a rating (timeout, 暂不评价)."""
    session.execute(
        update(DeviceSignal)
        .where(
            DeviceSignal.id == signal_id,
            DeviceSignal.device_id == device.id,
            DeviceSignal.status == SignalStatus.shown.value,
        )
        .values(
            status=(SignalStatus.rated if rated else SignalStatus.not_rated).value,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def was_rated_here(*, session: Session, device: DeviceInfo, signal_id: int) -> bool:
    signal = _signal_of(session, device, signal_id)
    return signal.status == SignalStatus.rated.value and signal.device_id == device.id
