"""Who is logged in: the session cookie, the dependencies that require it, CSRF tokens.

``current_user`` is the dependency to reuse on any route of the console (or an API route used
by it): it returns ``(User, LoginSession)`` or raises ``login_required`` (401). Console pages
turn that into a redirect to the login page (see ``pages.ConsoleRoute``); a JSON route lets the
application's handler answer ``{"code": "login_required", ...}``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Form, Request, Response

from haochaping.access.rules import AccessRule
from haochaping.accounts.models import LoginSession, User
from haochaping.accounts.service import SESSION_COOKIE, SESSION_LIFETIME, resolve_session
from haochaping.config import get_settings
from haochaping.errors import DomainError
from haochaping.web import NowDep, SessionDep

LOGIN_CSRF_COOKIE = "hcp_csrf"
CSRF_MESSAGE = "页面已过期，请刷新后重试"


class LoginRequired(DomainError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("login_required", "请先登录")


class PasswordChangeRequired(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("password_change_required", "请先修改初始密码")


class CsrfFailed(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("csrf_failed", CSRF_MESSAGE)


def _resolve(request: Request, session: SessionDep, now: NowDep) -> tuple[User, LoginSession]:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = resolve_session(session, token=token, now=now) if token else None
    # Keep the touch of last_seen_at, or the deletion of an expired session.
    session.commit()
    if found is None:
        raise LoginRequired()
    return found


class ConsoleUser(AccessRule):
    """The access rule of console pages: a logged-in official. ``login_required`` (401)
    without a valid session; ``password_change_required`` (403) while the initial password
    has not been changed, unless ``initial_password_ok`` (the password page itself)."""

    def __init__(self, *, initial_password_ok: bool = False) -> None:
        self.initial_password_ok = initial_password_ok

    def __call__(
        self, who: Annotated[tuple[User, LoginSession], Depends(_resolve)]
    ) -> tuple[User, LoginSession]:
        if who[0].must_change_password and not self.initial_password_ok:
            raise PasswordChangeRequired()
        return who


# The logged-in user, even one who still has to change the initial password.
current_user_any = ConsoleUser(initial_password_ok=True)
# The logged-in user and their session.
current_user = ConsoleUser()


CurrentUser = Annotated[tuple[User, LoginSession], Depends(current_user)]
CurrentUserAny = Annotated[tuple[User, LoginSession], Depends(current_user_any)]


def tokens_match(expected: str, given: str) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


def require_csrf(
    who: CurrentUserAny, csrf_token: Annotated[str, Form()] = ""
) -> tuple[User, LoginSession]:
    """For the forms of a logged-in user: the hidden field must carry the session's token."""
    if not tokens_match(who[1].csrf_token, csrf_token):
        raise CsrfFailed()
    return who


CsrfCheckedUser = Annotated[tuple[User, LoginSession], Depends(require_csrf)]


def login_csrf_token(request: Request) -> str:
    """The double-submit token of the login form: the cookie's value, or a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if 20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return secrets.token_urlsafe(32)


def check_login_csrf(request: Request, given: str) -> None:
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), given):
        raise CsrfFailed()


def set_login_csrf_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/console",
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="strict",
    )


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=get_settings().cookie_secure,
        httponly=True,
        samesite="lax",
    )
