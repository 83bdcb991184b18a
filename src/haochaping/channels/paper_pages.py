"""Console pages of the paper forms (ZZ, C8): print a window's blank form, type in filled ones.

For window clerks (their own cases) and organisation managers (their organisation's); the
forms carry the session's CSRF token like every console form. A refused form is shown again
with the refusal's code and Chinese message, never stored in part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from haochaping.access.principal import Principal
from haochaping.access.rules import Forbidden, principal_for_user
from haochaping.accounts.models import LoginSession, Role, User
from haochaping.channels import paper
from haochaping.console.auth import CsrfCheckedUser, CurrentUser, PasswordChangeRequired
from haochaping.console.pages import ConsoleRoute
from haochaping.errors import DomainError, InvalidInput
from haochaping.protection.proxies import client_ip
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

PREFIX = "/console/paper"
ENTRY = f"{PREFIX}/entry"
ALLOWED_ROLES = {Role.org_manager, Role.window_staff}

# The console's layout first; the paper templates live beside the citizens' pages.
templates = Jinja2Templates(
    directory=[
        Path(__file__).parent.parent / "console" / "templates",
        Path(__file__).parent / "templates",
    ]
)

router = APIRouter(
    prefix=PREFIX,
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)


@dataclass(frozen=True)
class Clerk:
    user: User
    login: LoginSession
    principal: Principal


def _clerk_of(request: Request, session: SessionDep, user: User, login: LoginSession) -> Clerk:
    principal = principal_for_user(
        session, user_id=user.id, username=user.username, ip=client_ip(request)
    )
    if not principal.roles & ALLOWED_ROLES:
        raise Forbidden(
            "forbidden", "只有窗口工作人员和部门负责人可以录入纸质评价表，如需使用请联系系统管理员"
        )
    return Clerk(user, login, principal)


def clerk(request: Request, session: SessionDep, who: CurrentUser) -> Clerk:
    """A logged-in window clerk or organisation manager."""
    return _clerk_of(request, session, *who)


def clerk_form(request: Request, session: SessionDep, who: CsrfCheckedUser) -> Clerk:
    """The same, for a form carrying the session's CSRF token."""
    if who[0].must_change_password:
        raise PasswordChangeRequired()
    return _clerk_of(request, session, *who)


ClerkDep = Annotated[Clerk, Depends(clerk)]
ClerkFormDep = Annotated[Clerk, Depends(clerk_form)]


def _context(who: Clerk, **values: Any) -> dict[str, Any]:
    return {"user": who.user, "csrf_token": who.login.csrf_token, **values}


@router.get("/", response_class=HTMLResponse)
def paper_home(request: Request, session: SessionDep, who: ClerkDep) -> Response:
    windows = paper.windows_in_scope(session=session, scope=who.principal.scope)
    return templates.TemplateResponse(request, "paper_home.html", _context(who, windows=windows))


@router.get("/form/{window_code}", response_class=HTMLResponse)
def printable_form(
    request: Request, window_code: str, session: SessionDep, who: ClerkDep
) -> Response:
    sheet = paper.form_sheet(
        session=session, window_code=window_code[:50], scope=who.principal.scope
    )
    return templates.TemplateResponse(request, "paper_form.html", _context(who, sheet=sheet))


def _entry_page(
    request: Request,
    who: Clerk,
    *,
    values: dict[str, str] | None = None,
    error: DomainError | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "paper_entry.html",
        _context(
            who,
            values=values or {},
            error=error,
            notice=notice,
            stages=list(paper.STAGES.items()),
        ),
        status_code=status_code,
    )


@router.get("/entry", response_class=HTMLResponse)
def entry_form(
    request: Request,
    who: ClerkDep,
    done: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    notice = f"办件 {done} 的纸质评价表已录入。" if done else None
    return _entry_page(request, who, notice=notice)


@router.post("/entry", response_class=HTMLResponse)
def entry_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: ClerkFormDep,
    case_no: Annotated[str, Form(max_length=64)] = "",
    stage: Annotated[str, Form(max_length=16)] = "",
    level: Annotated[str, Form(max_length=8)] = "",
    labels: Annotated[str, Form(max_length=2000)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    filled_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    values = {
        "case_no": case_no,
        "stage": stage,
        "level": level,
        "labels": labels,
        "text": text,
        "filled_on": filled_on,
    }
    try:
        entry = paper.entry_of(values)
        if entry.filled_on.year < 2000:
            raise InvalidInput("filled_on_invalid", "填写日期格式不正确，应为“2026-11-23”")
        paper.enter_form(
            session=session,
            entry=entry,
            now=now,
            scope=who.principal.scope,
            entered_by=who.principal.actor,
            source="console",
        )
    except DomainError as exc:
        session.rollback()
        return _entry_page(
            request, who, values=values, error=exc, status_code=min(exc.status_code, 499)
        )
    session.commit()
    return RedirectResponse(f"{ENTRY}?{urlencode({'done': entry.case_no})}", status_code=303)
