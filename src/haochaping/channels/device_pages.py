"""The counter rating device (评价器): a kiosk page bound to one window.

``/device`` asks once for a pairing code, then stays idle with an event stream open
(``/device/events``, server-sent events). When the window's staff signal that a service ended,
the stream names the signal and the page opens the rating screen of that occasion: the form of
the unified page (same template, same rules, same service), recorded as channel 4 (D5 hall
device). After the rating, after "暂不评价" or after a minute without input the device is
idle again. The page needs JavaScript for the live part (a managed kiosk); the forms themselves
are plain HTML.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from haochaping.access.rules import Public
from haochaping.access.scope import Scope
from haochaping.cases.models import OccasionStatus
from haochaping.channels import device_service as devices
from haochaping.channels import reading
from haochaping.channels.page_route import ChinesePageRoute
from haochaping.channels.pages import templates
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn
from haochaping.protection.proxies import client_ip
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

PREFIX = "/device"
COOKIE = "hcp_device"
COOKIE_MAX_AGE = 400 * 24 * 3600
MODE_COOKIE = "hcp_device_mode"
# D5: 4 评价器 (hall tablet / evaluator).
CHANNEL = Channel.hall_device
# The rating screen goes back to idle after this many seconds without input.
SCREEN_TIMEOUT_SECONDS = 60
# The thank-you screen stays this long.
DONE_SECONDS = 6
# Event stream: how often it looks for signals, sends a heartbeat comment, marks the device as
# seen; after how long it ends (the browser reconnects at once, with Last-Event-ID).
POLL_SECONDS = 0.75
HEARTBEAT_SECONDS = 15.0
TOUCH_SECONDS = 15.0
STREAM_SECONDS = 300.0
RETRY_MILLISECONDS = 3000

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}

# The rating page's templates and static files (channels/templates, channels/static).

_THEN = re.compile(r"/device(/rate/[0-9]{1,10}(/done)?)?")


class DeviceVisit:
    """What the shared templates need of a request (``rate.html`` and ``base.html``)."""

    via = None
    back = None

    def __init__(self, request: Request, path: str = PREFIX) -> None:
        self.path = path
        # A kiosk faces everyone: large type unless the citizen switched it off.
        self.elder = request.cookies.get(MODE_COOKIE) != "standard"

    def mode_url(self, then: str = "") -> str:
        return f"{PREFIX}/mode?elder={'0' if self.elder else '1'}&then={self.path}"


def render(
    template: str, visit: DeviceVisit, status_code: int = 200, **context: Any
) -> HTMLResponse:
    body = templates.get_template(template).render(visit=visit, elder=visit.elder, **context)
    return HTMLResponse(body, status_code=status_code)


def message(
    visit: DeviceVisit, status_code: int, title: str, text: str, *, back: bool = True
) -> HTMLResponse:
    return render(
        "device_message.html",
        visit,
        status_code,
        title=title,
        message=text,
        back=back,
        back_seconds=DONE_SECONDS,
    )


BUSY = ("系统繁忙", "系统暂时无法处理，请稍后再试。")


class DeviceRoute(ChinesePageRoute):
    """Refusals as pages in Chinese (an unpaired device goes to the pairing page), with the
    security headers on every answer."""

    page = "device page"
    headers = HEADERS
    default_title = "暂时无法评价"
    busy = BUSY

    def message(self, request: Request, status_code: int, title: str, text: str) -> Response:
        return message(DeviceVisit(request), status_code, title, text)

    def refuse(self, request: Request, exc: DomainError) -> Response | None:
        if not isinstance(exc, devices.DeviceUnpaired):
            return None
        if request.method == "GET" and not request.url.path.endswith("/events"):
            return RedirectResponse(PREFIX, status_code=303)
        return self.message(request, exc.status_code, "设备未配对", exc.message)


router = APIRouter(
    prefix=PREFIX,
    route_class=DeviceRoute,
    include_in_schema=False,
    dependencies=[
        Depends(
            Public(
                "窗口评价器（评价器模式）：凭配对后发放的设备凭据显示本窗口的评价页面，"
                "无需工作人员登录；未配对的设备只能输入配对码"
            )
        ),
        # A hall's devices may share one address behind its gateway.
        Depends(RateLimit("device-page", "600/minute")),
    ],
)

SignalPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _credential(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def _device(session: Session, request: Request) -> devices.DeviceInfo:
    return devices.device_for_credential(session=session, credential=_credential(request))


def _form_token(request: Request, signal_id: int) -> str:
    """Proof that a form comes from a page this server rendered for this device (CSRF)."""
    key = (_credential(request) or "").encode("utf-8", "surrogatepass")
    return hmac.new(key, f"device-form|{signal_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _check_form(request: Request, signal_id: int, given: str | None) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site" or not (
        given is not None
        and hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), _form_token(request, signal_id).encode()
        )
    ):
        raise DomainError("form_expired", "页面已过期，请重新操作。", status_code=403)


def _set_cookie(response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_MAX_AGE,
        path=PREFIX,
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="strict",
    )


# ---- pairing and idle -----------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def device_home(request: Request, session: SessionDep) -> Response:
    visit = DeviceVisit(request)
    try:
        device = _device(session, request)
    except devices.DeviceUnpaired:
        revoked = _credential(request) is not None
        return render("device_pair.html", visit, error=None, revoked=revoked)
    return render(
        "device_idle.html",
        visit,
        device=device,
        events=f"{PREFIX}/events",
    )


@router.post(
    "/pair",
    response_class=HTMLResponse,
    dependencies=[Depends(RateLimit("device-pair", "10/minute"))],
)
def pair_device(
    request: Request,
    session: SessionDep,
    now: NowDep,
    code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    visit = DeviceVisit(request)
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise DomainError("form_expired", "页面已过期，请重新操作。", status_code=403)
    try:
        _, credential = devices.pair(session=session, code=code, now=now, ip=client_ip(request))
    except DomainError as exc:
        session.rollback()
        return render("device_pair.html", visit, 422, error=exc.message, revoked=False)
    session.commit()
    response = RedirectResponse(PREFIX, status_code=303)
    _set_cookie(response, COOKIE, credential)
    return response


@router.get("/mode")
def switch_mode(
    request: Request,
    elder: Annotated[str, Query(pattern="^[01]$")] = "1",
    then: Annotated[str, Query(max_length=40)] = PREFIX,
) -> Response:
    """Large type (the default on a device) or standard, remembered; back to the same screen."""
    target = then if _THEN.fullmatch(then) else PREFIX
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, MODE_COOKIE, "large" if elder == "1" else "standard")
    return response


# ---- the event stream -----------------------------------------------------------------------


def _poll(
    db: Database, device: devices.DeviceInfo, after: int, now: datetime, touch: bool
) -> tuple[bool, list[devices.PendingSignal]]:
    """One look at the database: is the device still paired, which signals wait for it."""
    with db.transaction() as session:
        if not devices.still_paired(session=session, device_id=device.id):
            return False, []
        if touch:
            devices.touch(session=session, device_id=device.id, now=now)
        found = devices.pending_signals(
            session=session, window_id=device.window_id, after_id=after, now=now
        )
        return True, found


def _authenticate(db: Database, credential: str | None) -> devices.DeviceInfo:
    with db.transaction() as session:
        return devices.device_for_credential(session=session, credential=credential)


def _event(signal: devices.PendingSignal) -> str:
    data = json.dumps({"signal_id": signal.id, "url": f"{PREFIX}/rate/{signal.id}"})
    return f"id: {signal.id}\nevent: signal\ndata: {data}\n\n"


async def _stream(
    db: Database, clock: Callable[[], datetime], device: devices.DeviceInfo, after: int
) -> AsyncIterator[str]:
    # The database is polled in short transactions on the thread pool; between polls nothing
    # is held, so one worker serves many devices. Rows, not a broker: every worker sees them.
    yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
    started = last_beat = time.monotonic()
    last_touch = float("-inf")
    while True:
        touch = time.monotonic() - last_touch >= TOUCH_SECONDS
        alive, found = await run_in_threadpool(_poll, db, device, after, clock(), touch)
        if touch:
            last_touch = time.monotonic()
        if not alive:
            yield 'event: revoked\ndata: {"code": "device_not_paired"}\n\n'
            return
        for signal in found:
            yield _event(signal)
            after = signal.id
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_beat = time.monotonic()
        if time.monotonic() - started >= STREAM_SECONDS:
            return
        await asyncio.sleep(POLL_SECONDS)


@router.get("/events", dependencies=[Depends(RateLimit("device-events", "120/minute"))])
async def device_events(
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> Response:
    """``text/event-stream``: ``signal`` events (id = signal id) for this device's window, a
    ``revoked`` event when the device is revoked, heartbeat comments."""
    db: Database = request.app.state.db
    clock: Callable[[], datetime] = request.app.state.clock
    device = await run_in_threadpool(_authenticate, db, _credential(request))
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return StreamingResponse(
        _stream(db, clock, device, min(after, 2**31 - 1)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# ---- the rating screen ----------------------------------------------------------------------


def _form_context(
    request: Request,
    signal_id: int,
    view: reading.OccasionView,
    *,
    level: int | None = None,
    labels: list[str] | None = None,
    text: str = "",
    error: str | None = None,
) -> dict[str, Any]:
    profile = view.profile
    return {
        "view": view,
        "levels": [(n, profile.levels[n].name, profile.is_bad(n)) for n in (5, 4, 3, 2, 1)],
        "groups": reading.label_groups(profile),
        "chosen_level": level,
        "chosen_labels": set(labels or []),
        "text": text,
        "error": error,
        "form_token": _form_token(request, signal_id),
        "bad_needs_reason": profile.bad_review_requires_reason,
        "bad_names": "或".join(f"“{profile.levels[n].name}”" for n in profile.bad_levels),
        "signal_id": signal_id,
        "timeout_seconds": SCREEN_TIMEOUT_SECONDS,
    }


def _closed(view: reading.OccasionView, now: datetime) -> bool:
    return (
        now < view.opens_at or view.status == OccasionStatus.expired.value or now > view.rate_until
    )


def _rate_path(signal_id: int) -> str:
    return f"{PREFIX}/rate/{signal_id}"


@router.get("/rate/{signal_id}", response_class=HTMLResponse)
def rating_screen(
    request: Request, signal_id: SignalPath, session: SessionDep, now: NowDep
) -> Response:
    device = _device(session, request)
    visit = DeviceVisit(request, _rate_path(signal_id))
    try:
        occasion_id = devices.claim_signal(
            session=session, device=device, signal_id=signal_id, now=now
        )
    except DomainError:
        session.rollback()
        return RedirectResponse(PREFIX, status_code=303)
    view = reading.occasion_view(session=session, occasion_id=occasion_id)
    if view.rated or _closed(view, now):
        devices.finish_signal(
            session=session, device=device, signal_id=signal_id, rated=view.rated, now=now
        )
        session.commit()
        title = "已评价" if view.rated else "暂不能评价"
        text = "该办件此环节已评价，感谢您的支持。" if view.rated else "该办件此环节当前不能评价。"
        return message(visit, 200, title, text)
    session.commit()
    return render("device_rate.html", visit, **_form_context(request, signal_id, view))


@router.post(
    "/rate/{signal_id}",
    response_class=HTMLResponse,
    dependencies=[Depends(RateLimit("device-submit", "120/minute"))],
)
def submit_rating(
    request: Request,
    signal_id: SignalPath,
    session: SessionDep,
    now: NowDep,
    form_token: Annotated[str | None, Form(max_length=64)] = None,
    level: Annotated[str | None, Form(max_length=2)] = None,
    label: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    device = _device(session, request)
    _check_form(request, signal_id, form_token)
    visit = DeviceVisit(request, _rate_path(signal_id))
    occasion_id = devices.shown_occasion(
        session=session, device=device, signal_id=signal_id, now=now
    )
    view = reading.occasion_view(session=session, occasion_id=occasion_id)
    labels = [code for code in (label or []) if code]
    chosen = int(level) if level in ("1", "2", "3", "4", "5") else None

    def again(error: str) -> Response:
        context = _form_context(
            request, signal_id, view, level=chosen, labels=labels, text=text, error=error
        )
        return render("device_rate.html", visit, 422, **context)

    if chosen is None:
        return again("请选择您对本次服务的满意程度。")
    try:
        data = EvaluationIn(
            occasion_id=occasion_id,
            level=chosen,
            label_codes=labels,
            text=text.strip() or None,
            channel=CHANNEL,
        )
    except ValidationError:
        return again("提交的内容不符合要求（意见最多1000字，不能含控制字符），请修改后再提交。")
    try:
        evaluations.submit(session=session, data=data, now=now, scope=Scope.all())
    except DomainError as exc:
        session.rollback()
        if exc.code == "already_evaluated" or _closed(view, now):
            devices.finish_signal(
                session=session,
                device=device,
                signal_id=signal_id,
                rated=exc.code == "already_evaluated",
                now=now,
            )
            session.commit()
            return message(visit, 409, "无法评价", exc.message)
        return again(exc.message)
    devices.finish_signal(session=session, device=device, signal_id=signal_id, rated=True, now=now)
    session.commit()
    return RedirectResponse(f"{_rate_path(signal_id)}/done", status_code=303)


@router.get("/rate/{signal_id}/done", response_class=HTMLResponse)
def thanks(request: Request, signal_id: SignalPath, session: SessionDep) -> Response:
    """Thanks, without the level (the screen faces the counter too, C10); then idle."""
    device = _device(session, request)
    if not devices.was_rated_here(session=session, device=device, signal_id=signal_id):
        return RedirectResponse(PREFIX, status_code=303)
    visit = DeviceVisit(request, f"{_rate_path(signal_id)}/done")
    return render("device_done.html", visit, back_seconds=DONE_SECONDS)


@router.post("/rate/{signal_id}/dismiss")
def dismiss(
    request: Request,
    signal_id: SignalPath,
    session: SessionDep,
    now: NowDep,
    form_token: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """暂不评价, or a minute without input: the screen closes unrated (C8: the citizen may
    still rate later through another channel)."""
    device = _device(session, request)
    _check_form(request, signal_id, form_token)
    devices.finish_signal(session=session, device=device, signal_id=signal_id, rated=False, now=now)
    session.commit()
    return RedirectResponse(PREFIX, status_code=303)
