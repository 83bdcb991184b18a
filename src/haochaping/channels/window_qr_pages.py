"""The page behind a window's static QR code (ZZ, D2): phone → one-time code → own cases.

Plain HTML forms in Simplified Chinese that work without JavaScript, with the rating page's
stylesheet, security headers and elder mode (the ``hcp_elder`` cookie). Every refusal is a
page; nothing here answers JSON or shows a stack trace. After verification a short-lived
cookie (``hcp_wqr``, path ``/w/``, HttpOnly) stands for the verified phone at this window; it
holds a random secret whose hash only is stored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from haochaping.access.rules import Public
from haochaping.channels import window_qr
from haochaping.channels.page_route import ChinesePageRoute
from haochaping.channels.pages import BUSY, ELDER_COOKIE, ELDER_MAX_AGE, HEADERS, templates
from haochaping.config import get_settings
from haochaping.errors import DomainError
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

SESSION_COOKIE = "hcp_wqr"
_SAFE_TOKEN = re.compile(r"[0-9a-z]{1,12}\.[0-9A-Za-z_-]{1,24}")
TITLES = {404: "二维码无效", 429: "操作过于频繁"}


class WindowVisit:
    """What the shared layout needs for its elder-mode switch (``visit.mode_url``): the
    switch comes back to the same window page."""

    back = None

    def __init__(self, request: Request) -> None:
        token = str(request.path_params.get("token", ""))
        self.token = token if _SAFE_TOKEN.fullmatch(token) else None
        self.elder = request.cookies.get(ELDER_COOKIE) == "1"

    def mode_url(self, then: str = "") -> str:
        params = {"elder": "0" if self.elder else "1", "then": then}
        return f"{window_qr.PATH_PREFIX}{self.token}/mode?{urlencode(params)}"


def _render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    visit = WindowVisit(request)
    body = templates.get_template(template).render(
        visit=visit if visit.token else None, elder=visit.elder, **context
    )
    return HTMLResponse(body, status_code=status_code)


def _message(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return _render(request, "message.html", status_code, title=title, message=message)


class WindowQrRoute(ChinesePageRoute):
    """Refusals as pages in Chinese, with the rating page's security headers."""

    page = "window QR page"
    headers = HEADERS
    titles = TITLES
    invalid_text = "页面参数不正确，请重新扫描二维码。"
    busy = BUSY

    def message(self, request: Request, status_code: int, title: str, text: str) -> Response:
        return _message(request, status_code, title, text)


router = APIRouter(
    prefix="/w",
    route_class=WindowQrRoute,
    include_in_schema=False,
    dependencies=[
        Depends(
            Public(
                "办事群众扫描窗口张贴的静态评价二维码（ZZ、D2），凭手机短信验证码"
                "查看本人在该窗口办理的事项并评价；只显示本人的办件"
            )
        ),
        Depends(RateLimit("window-qr-page", "120/minute")),
    ],
)

TokenPath = Annotated[str, "window token"]
FormToken = Annotated[str | None, Form(max_length=64)]


def _window(token: str) -> int:
    return window_qr.read_window_token(token[: window_qr.MAX_TOKEN_LENGTH])


def _check_form(request: Request, token: str, purpose: str, given: str | None) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site" or not window_qr.form_token_ok(
        token, purpose, given
    ):
        raise DomainError("form_expired", "页面已过期，请重新扫描二维码后再提交。", status_code=403)


def _phone_page(
    request: Request,
    session: SessionDep,
    token: str,
    window_id: int,
    *,
    error: str | None = None,
    phone: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        "window_phone.html",
        status_code,
        window=window_qr.window_info(session=session, window_id=window_id),
        path=window_qr.PATH_PREFIX + token,
        form_token=window_qr.form_token(token, "phone"),
        error=error,
        phone=phone,
    )


@router.get("/{token}", response_class=HTMLResponse)
def window_page(request: Request, token: str, session: SessionDep, now: NowDep) -> Response:
    window_id = _window(token)
    if window_qr.rater_session(
        session=session, window_id=window_id, secret=request.cookies.get(SESSION_COOKIE), now=now
    ):
        return RedirectResponse(f"{window_qr.PATH_PREFIX}{token}/cases", status_code=303)
    return _phone_page(request, session, token, window_id)


@router.post(
    "/{token}/code",
    response_class=HTMLResponse,
    dependencies=[Depends(RateLimit("window-qr-code", "10/minute"))],
)
def send_code(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    form_token: FormToken = None,
    phone: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    window_id = _window(token)
    _check_form(request, token, "phone", form_token)
    try:
        challenge = window_qr.request_code(
            session=session, window_id=window_id, phone=phone, now=now
        )
    except DomainError as exc:
        session.rollback()
        if exc.status_code >= 500:
            raise
        response = _phone_page(
            request,
            session,
            token,
            window_id,
            error=exc.message,
            phone=phone,
            status_code=exc.status_code,
        )
        response.headers.update(getattr(exc, "headers", None) or {})
        return response
    public_id = challenge.public_id
    session.commit()
    return RedirectResponse(f"{window_qr.PATH_PREFIX}{token}/verify?c={public_id}", status_code=303)


def _verify_page(
    request: Request,
    session: SessionDep,
    token: str,
    window_id: int,
    public_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    challenge = window_qr.find_challenge(session=session, window_id=window_id, public_id=public_id)
    return _render(
        request,
        "window_verify.html",
        status_code,
        mode_then=f"verify:{challenge.public_id}",
        window=window_qr.window_info(session=session, window_id=window_id),
        path=window_qr.PATH_PREFIX + token,
        form_token=window_qr.form_token(token, "verify"),
        challenge=challenge.public_id,
        masked_phone=challenge.phone_masked,
        error=error,
    )


@router.get("/{token}/verify", response_class=HTMLResponse)
def verify_form(
    request: Request,
    token: str,
    session: SessionDep,
    c: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    window_id = _window(token)
    return _verify_page(request, session, token, window_id, c)


@router.post(
    "/{token}/verify",
    response_class=HTMLResponse,
    dependencies=[Depends(RateLimit("window-qr-verify", "20/minute"))],
)
def verify_submit(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    form_token: FormToken = None,
    c: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    window_id = _window(token)
    _check_form(request, token, "verify", form_token)
    try:
        secret = window_qr.verify_code(
            session=session, window_id=window_id, public_id=c, code=code, now=now
        )
    except DomainError as exc:
        # A wrong code still counts against the five attempts.
        session.commit()
        if exc.code in ("otp_not_found", "otp_used", "otp_expired", "otp_locked"):
            return _phone_page(
                request, session, token, window_id, error=exc.message, status_code=422
            )
        return _verify_page(
            request, session, token, window_id, c, error=exc.message, status_code=422
        )
    session.commit()
    response = RedirectResponse(f"{window_qr.PATH_PREFIX}{token}/cases", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(window_qr.SESSION_LIFETIME.total_seconds()),
        path=window_qr.PATH_PREFIX,
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/{token}/cases", response_class=HTMLResponse)
def my_cases(request: Request, token: str, session: SessionDep, now: NowDep) -> Response:
    window_id = _window(token)
    who = window_qr.rater_session(
        session=session, window_id=window_id, secret=request.cookies.get(SESSION_COOKIE), now=now
    )
    if who is None:
        return _phone_page(
            request, session, token, window_id, error="请先验证手机号码。", status_code=401
        )
    items = window_qr.my_occasions(
        session=session, window_id=window_id, phone_index=who.phone_index, now=now
    )
    return _render(
        request,
        "window_cases.html",
        mode_then="cases",
        window=window_qr.window_info(session=session, window_id=window_id),
        masked_phone=who.phone_masked,
        items=items,
    )


@router.get("/{token}/mode")
def switch_mode(
    request: Request,
    token: str,
    elder: Annotated[str, Query(pattern="^[01]$")] = "1",
    then: Annotated[str, Query(pattern="^(cases|verify:[A-Za-z0-9_-]{1,32})?$")] = "",
) -> Response:
    """Elder mode (适老化) on or off, remembered in the rating pages' cookie; back to the
    same window page."""
    _window(token)
    target = window_qr.PATH_PREFIX + token
    if then == "cases":
        target += "/cases"
    elif then.startswith("verify:"):
        target += "/verify?" + urlencode({"c": then.removeprefix("verify:")})
    response = RedirectResponse(target, status_code=303)
    if elder == "1":
        response.set_cookie(
            ELDER_COOKIE,
            "1",
            max_age=ELDER_MAX_AGE,
            path="/",
            secure=get_settings().cookie_secure,
            httponly=True,
            samesite="lax",
        )
    else:
        response.delete_cookie(ELDER_COOKIE, path="/")
    return response
