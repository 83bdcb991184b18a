"""The console pages: login, logout, password change, home.

Every route of this router goes through ``ConsoleRoute``: a refusal becomes a page in Chinese
(or a redirect to the login or password page), never JSON, and every answer carries headers
that keep it out of caches and frames.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from haochaping.access.rules import Public
from haochaping.accounts import service as accounts
from haochaping.accounts.models import User
from haochaping.console.auth import (
    CsrfCheckedUser,
    CurrentUser,
    CurrentUserAny,
    LoginRequired,
    PasswordChangeRequired,
    check_login_csrf,
    clear_session_cookie,
    login_csrf_token,
    set_login_csrf_cookie,
    set_session_cookie,
)
from haochaping.errors import DomainError, InvalidInput
from haochaping.protection.proxies import client_ip
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

HOME = "/console/"
LOGIN = "/console/login"
PASSWORD = "/console/password"

# The console's sections: title, description, address (None until its pages exist).
NAVIGATION = (
    ("差评整改", "差评工单的登记、核实、整改、申诉与回访", "/console/workorders"),
    ("差评文字审核", "审核差评标签与文字，删除个人信息和不文明用语后公开", "/console/texts"),
    ("综合点评", "意见箱、邮箱、12345热线的意见建议：分类转交、答复与公开", "/console/remarks/"),
    ("监督查评", "随机抽取近期评价回访评价人，登记回访结果，汇总否认评价", "/console/callbacks/"),
    ("评价查询", "按地区、机构、窗口和人员查询评价", None),
    ("纸质评价表", "打印窗口纸质评价表，录入群众填写的评价表", "/console/paper/"),
    ("统计分析", "满意度、评价率、差评整改统计，排名、重点关注对象与通报", "/console/stats"),
    ("审计日志", "查看系统操作记录", None),
)


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "user": None}, status_code=status_code
    )


class ConsoleRoute(APIRoute):
    """Refusals as pages: no session → login page, initial password → password page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except LoginRequired:
                response = RedirectResponse(LOGIN, status_code=303)
                clear_session_cookie(response)
            except PasswordChangeRequired:
                response = RedirectResponse(PASSWORD, status_code=303)
            except DomainError as exc:
                response = render_error(request, exc.status_code, exc.message)
                response.headers.update(getattr(exc, "headers", None) or {})
            except RequestValidationError:
                response = render_error(request, 422, "提交的内容不完整，请返回后重试")
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


router = APIRouter(
    prefix="/console",
    route_class=ConsoleRoute,
    include_in_schema=False,
    # Generous for people, tight for scripts; the login form has its own, tighter limit.
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)

FormText = Annotated[str, Form(max_length=200)]


def _login_page(
    request: Request,
    token: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf_token": token,
            "error": error,
            "notice": notice,
            "username": username,
            "user": None,
        },
        status_code=status_code,
    )
    set_login_csrf_cookie(response, token)
    return response


LOGIN_PAGE = Public("登录页面，任何人都可打开")


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(LOGIN_PAGE)])
def login_form(request: Request, session: SessionDep, now: NowDep) -> Response:
    token = request.cookies.get(accounts.SESSION_COOKIE, "")
    if token and accounts.resolve_session(session, token=token, now=now) is not None:
        session.commit()
        return RedirectResponse(HOME, status_code=303)
    session.commit()
    notice = "您已安全退出" if request.query_params.get("bye") else None
    return _login_page(request, login_csrf_token(request), notice=notice)


@router.post(
    "/login",
    response_class=HTMLResponse,
    dependencies=[Depends(LOGIN_PAGE), Depends(RateLimit("login", "10/minute"))],
)
def login_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    username: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    check_login_csrf(request, csrf_token)
    ip = client_ip(request)
    try:
        user = accounts.authenticate(session, username=username, password=password, now=now, ip=ip)
    except DomainError as exc:
        session.commit()  # the failure counter, the lock and the audit entries stay
        return _login_page(
            request, csrf_token, error=exc.message, username=username, status_code=exc.status_code
        )
    token, _ = accounts.start_session(session, user=user, now=now, ip=ip)
    session.commit()
    response = RedirectResponse(PASSWORD if user.must_change_password else HOME, status_code=303)
    set_session_cookie(response, token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, now: NowDep, who: CsrfCheckedUser) -> Response:
    accounts.end_session(session, login=who[1], now=now, ip=client_ip(request))
    session.commit()
    response = RedirectResponse(f"{LOGIN}?bye=1", status_code=303)
    clear_session_cookie(response)
    return response


def _password_page(
    request: Request,
    user: User,
    csrf_token: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "password.html",
        {
            "user": user,
            "csrf_token": csrf_token,
            "forced": user.must_change_password,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, who: CurrentUserAny) -> Response:
    user, login = who
    return _password_page(request, user, login.csrf_token)


@router.post("/password", response_class=HTMLResponse)
def password_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: CsrfCheckedUser,
    old_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    user, login = who
    try:
        if new_password != confirm_password:
            raise InvalidInput("password_mismatch", "两次输入的新密码不一致")
        accounts.change_password(
            session,
            user=user,
            old=old_password,
            new=new_password,
            now=now,
            ip=client_ip(request),
            keep=login,
        )
    except DomainError as exc:
        session.rollback()
        return _password_page(
            request, user, login.csrf_token, error=exc.message, status_code=exc.status_code
        )
    session.commit()
    return RedirectResponse(f"{HOME}?changed=1", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, who: CurrentUser) -> Response:
    user, login = who
    grants = accounts.describe_grants(session, user.id)
    notice = "密码已修改" if request.query_params.get("changed") else None
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "user": user,
            "csrf_token": login.csrf_token,
            "grants": grants,
            "navigation": NAVIGATION,
            "notice": notice,
        },
    )
