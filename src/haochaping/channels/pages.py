"""The unified evaluation page (一事一评, D2, D3): one occasion, reached by its signed link.

Plain HTML forms that work without JavaScript (a small script only switches the label lists
with the level), in Simplified Chinese, mobile first, with an elder mode (适老化) remembered in
a cookie. Every answer is a page, refusals included (a damaged or expired link, a bad review
without a reason, a second rating): never JSON, never a stack trace. The link is the rater's
only credential: the forms carry a token derived from it (CSRF), and the pages are sent with
``Referrer-Policy: no-referrer`` so that the link never leaks to another site.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from haochaping.access.rules import Public
from haochaping.access.scope import Scope
from haochaping.cases.models import OccasionStatus
from haochaping.channels import links, reading
from haochaping.channels.page_route import ChinesePageRoute
from haochaping.clock import BEIJING
from haochaping.config import get_settings
from haochaping.errors import DomainError
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn, FollowUpIn
from haochaping.protection.ratelimit import RateLimit
from haochaping.web import NowDep, SessionDep

STATIC_PATH = "/r-static"
STATIC_DIR = Path(__file__).parent / "static"
ELDER_COOKIE = "hcp_elder"
ELDER_MAX_AGE = 400 * 24 * 3600
# Seconds a terminal shows the confirmation before going back to its home page.
TERMINAL_RETURN_SECONDS = 15
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static"] = STATIC_PATH


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")


templates.filters["when"] = _when


def static_files() -> StaticFiles:
    """The page's own stylesheet and script, served by the app (no CDN)."""
    return StaticFiles(directory=STATIC_DIR)


_SAFE_TOKEN = re.compile(r"[0-9A-Za-z._-]{1,64}")


class Visit:
    """What every page needs to know of the request: the link, how the rater came, whether
    the elder mode is on and where a terminal goes back to."""

    def __init__(self, request: Request, token: str, via: str | None, back: str | None) -> None:
        # Only the characters a token can have go back into a page or a redirect.
        self.token = token if _SAFE_TOKEN.fullmatch(token) else "invalid"
        self.via = links.Via(via) if via is not None and via in links.Via.__members__ else None
        self.back = links.allowed_return_url(back) if self.via is links.Via.terminal else None
        self.elder = request.cookies.get(ELDER_COOKIE) == "1"
        self.user_agent = request.headers.get("user-agent", "")
        self.mobile_hint = request.headers.get("sec-ch-ua-mobile") == "?1"

    def query(self, **extra: str) -> str:
        params = {"via": self.via.value if self.via else None, "back": self.back, **extra}
        text = urlencode({k: v for k, v in params.items() if v})
        return f"?{text}" if text else ""

    @property
    def path(self) -> str:
        return links.PATH_PREFIX + self.token

    @property
    def channel(self) -> Channel:
        """D5: by the flag the link carries, else mobile or PC by the browser."""
        if self.via is not None:
            return links.VIA_CHANNELS[self.via]
        mobile = self.mobile_hint or any(
            m in self.user_agent for m in ("Mobile", "Android", "iPhone", "iPad")
        )
        return Channel.mobile if mobile else Channel.pc

    def mode_url(self, then: str = "") -> str:
        params = {"elder": "0" if self.elder else "1", "then": then}
        return f"{self.path}/mode{self.query(**params)}"


def render(template: str, visit: Visit | None, status_code: int = 200, **context: Any) -> Response:
    body = templates.get_template(template).render(
        visit=visit, elder=bool(visit and visit.elder), **context
    )
    return HTMLResponse(body, status_code=status_code)


def message_page(
    visit: Visit | None, status_code: int, title: str, message: str, **extra: Any
) -> Response:
    return render("message.html", visit, status_code, title=title, message=message, **extra)


BUSY = ("系统繁忙", "系统暂时无法处理您的请求，请稍后再试。您的评价链接仍然有效。")
TITLES = {404: "评价链接无效", 410: "评价链接已过期", 429: "操作过于频繁", 403: "页面已过期"}


def _visit_of(request: Request) -> Visit:
    token = str(request.path_params.get("token", ""))[: links.MAX_TOKEN_LENGTH]
    query = request.query_params
    return Visit(request, token, query.get("via"), query.get("back"))


class RatingRoute(ChinesePageRoute):
    """Refusals as pages in Chinese, with the page's security headers on every answer."""

    page = "rating page"
    headers = HEADERS
    titles = TITLES
    default_title = "暂时无法评价"
    invalid_text = "页面参数不正确，请重新打开评价链接。"
    busy = BUSY

    def message(self, request: Request, status_code: int, title: str, text: str) -> Response:
        return message_page(_visit_of(request), status_code, title, text)


router = APIRouter(
    prefix="/r",
    route_class=RatingRoute,
    include_in_schema=False,
    dependencies=[
        Depends(
            Public(
                "办事群众通过签名的评价链接评价一次办理（一事一评，D2、D3）；"
                "链接本身即凭证，只能评价它所指的评价场次"
            )
        ),
        Depends(RateLimit("rating-page", "120/minute")),
    ],
)

ViaQuery = Annotated[str | None, Query(max_length=16)]
BackQuery = Annotated[str | None, Query(max_length=2000)]
SubmitLimits = [
    Depends(RateLimit("rating-submit", "30/minute")),
    Depends(RateLimit("rating-submit-link", "10/minute", per="case", case_param="token")),
]


def _claim(token: str, now: datetime) -> links.LinkClaim:
    return links.verify_token(token, now=now)


def _form_context(
    visit: Visit,
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
        "form_token": links.form_token(visit.token),
        "bad_needs_reason": profile.bad_review_requires_reason,
        "bad_names": "或".join(f"“{profile.levels[n].name}”" for n in profile.bad_levels),
    }


def _closed_message(view: reading.OccasionView, now: datetime) -> tuple[str, str] | None:
    """The refusal a rating would get before it is tried: not open yet or too late."""
    if now < view.opens_at:
        return "暂不能评价", "该环节尚未办理，办理后即可评价。"
    if view.status == OccasionStatus.expired.value or now > view.rate_until:
        window = view.profile.supplementary_window
        if view.on_site and window is not None:
            return (
                "评价期限已过",
                f"现场办理未当场评价的，须在办理之日起{window.describe()}内补充评价，"
                f"评价期限已于{_when(view.rate_until)}结束。",
            )
        return "评价期限已过", f"该办件的评价期限已于{_when(view.rate_until)}结束，无法再评价。"
    return None


def _rated_page(
    session: Session,
    visit: Visit,
    view: reading.OccasionView,
    now: datetime,
    *,
    status_code: int = 200,
    confirmed: bool = False,
    followed: bool = False,
    error: str | None = None,
    labels: list[str] | None = None,
    text: str = "",
) -> Response:
    state = reading.rating_state(session=session, view=view, now=now)
    if state is None:  # defaulted or closed in the meantime without a row: nothing to show
        return message_page(visit, 409, "已评价", "该办件此环节已评价，每个评价场次只能评价一次。")
    evaluation = state.evaluation
    profile = view.profile
    follow_labels = profile.labels.for_level(evaluation.level)
    names = profile.labels.by_code()
    follow_up_labels = [
        names[c].name if c in names else c
        for c in (evaluation.follow_up.label_codes if evaluation.follow_up else [])
    ]
    back = visit.back if (confirmed or followed) else None
    return render(
        "rated.html",
        visit,
        status_code,
        view=view,
        evaluation=evaluation,
        state=state,
        confirmed=confirmed,
        followed=followed,
        error=error,
        follow_labels=follow_labels,
        follow_up_labels=follow_up_labels,
        chosen_labels=set(labels or []),
        text=text,
        form_token=links.form_token(visit.token),
        back=back,
        back_seconds=TERMINAL_RETURN_SECONDS,
        mode_then="done" if (confirmed or followed) else "",
    )


@router.get("/{token}", response_class=HTMLResponse)
def rating_page(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    via: ViaQuery = None,
    back: BackQuery = None,
) -> Response:
    visit = Visit(request, token, via, back)
    claim = _claim(token, now)
    view = reading.occasion_view(session=session, occasion_id=claim.occasion_id)
    if view.rated:
        return _rated_page(session, visit, view, now)
    closed = _closed_message(view, now)
    if closed is not None:
        return message_page(visit, 422, *closed, view=view)
    return render("rate.html", visit, **_form_context(visit, view))


def _check_form(request: Request, token: str, given: str | None) -> None:
    # Browsers say where a form was sent from; another site's page never submits ours.
    if request.headers.get("sec-fetch-site") == "cross-site" or not links.form_token_ok(
        token, given
    ):
        raise DomainError(
            "form_expired", "页面已过期，请重新打开评价链接后再提交。", status_code=403
        )


@router.post("/{token}", response_class=HTMLResponse, dependencies=SubmitLimits)
def submit_rating(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    form_token: Annotated[str | None, Form(max_length=64)] = None,
    level: Annotated[str | None, Form(max_length=2)] = None,
    label: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form(max_length=4000)] = "",
    via: Annotated[str | None, Form(max_length=16)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    visit = Visit(request, token, via, back)
    claim = _claim(token, now)
    _check_form(request, token, form_token)
    view = reading.occasion_view(session=session, occasion_id=claim.occasion_id)
    labels = [code for code in (label or []) if code]
    chosen = int(level) if level in ("1", "2", "3", "4", "5") else None

    def again(message: str, status_code: int = 422) -> Response:
        context = _form_context(visit, view, level=chosen, labels=labels, text=text, error=message)
        return render("rate.html", visit, status_code, **context)

    if view.rated:
        return _rated_page(session, visit, view, now, status_code=409)
    if chosen is None:
        return again("请选择您对本次服务的满意程度。")
    try:
        data = EvaluationIn(
            occasion_id=claim.occasion_id,
            level=chosen,
            label_codes=labels,
            text=text.strip() or None,
            channel=visit.channel,
        )
    except ValidationError:
        return again("提交的内容不符合要求（意见最多1000字，不能含控制字符），请修改后再提交。")
    try:
        evaluations.submit(session=session, data=data, now=now, scope=Scope.all())
    except DomainError as exc:
        session.rollback()
        if exc.code == "already_evaluated":
            return _rated_page(session, visit, view, now, status_code=409)
        closed = _closed_message(view, now)
        if closed is not None:
            return message_page(visit, 422, *closed, view=view)
        return again(exc.message)
    session.commit()
    return RedirectResponse(f"{visit.path}/done{visit.query()}", status_code=303)


@router.get("/{token}/done", response_class=HTMLResponse)
def confirmation(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    via: ViaQuery = None,
    back: BackQuery = None,
    followed: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    visit = Visit(request, token, via, back)
    claim = _claim(token, now)
    view = reading.occasion_view(session=session, occasion_id=claim.occasion_id)
    if not view.rated:
        return RedirectResponse(f"{visit.path}{visit.query()}", status_code=303)
    return _rated_page(session, visit, view, now, confirmed=not followed, followed=bool(followed))


@router.post("/{token}/follow-up", response_class=HTMLResponse, dependencies=SubmitLimits)
def submit_follow_up(
    request: Request,
    token: str,
    session: SessionDep,
    now: NowDep,
    form_token: Annotated[str | None, Form(max_length=64)] = None,
    label: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form(max_length=4000)] = "",
    via: Annotated[str | None, Form(max_length=16)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """C6: one follow-up of the occasion's evaluation, by the same service as the API's."""
    visit = Visit(request, token, via, back)
    claim = _claim(token, now)
    _check_form(request, token, form_token)
    view = reading.occasion_view(session=session, occasion_id=claim.occasion_id)
    labels = [code for code in (label or []) if code]
    state = reading.rating_state(session=session, view=view, now=now) if view.rated else None
    if state is None:
        return RedirectResponse(f"{visit.path}{visit.query()}", status_code=303)

    def again(message: str, status_code: int = 422) -> Response:
        return _rated_page(
            session,
            visit,
            view,
            now,
            status_code=status_code,
            error=message,
            labels=labels,
            text=text,
        )

    try:
        data = FollowUpIn(label_codes=labels, text=text.strip() or None, channel=visit.channel)
    except ValidationError:
        return again("提交的内容不符合要求（意见最多1000字，不能含控制字符），请修改后再提交。")
    try:
        evaluations.follow_up(
            session=session,
            evaluation_id=state.evaluation.id,
            data=data,
            now=now,
            scope=Scope.all(),
        )
    except DomainError as exc:
        session.rollback()
        return again(exc.message, 409 if exc.status_code == 409 else 422)
    session.commit()
    return RedirectResponse(f"{visit.path}/done{visit.query(followed='1')}", status_code=303)


@router.get("/{token}/mode")
def switch_mode(
    request: Request,
    token: str,
    elder: Annotated[str, Query(pattern="^[01]$")] = "1",
    then: Annotated[str, Query(pattern="^(done)?$")] = "",
    via: ViaQuery = None,
    back: BackQuery = None,
) -> Response:
    """Elder mode on or off, remembered in a cookie; back to the same page. The way back is
    always this link's own page: the token is only checked for its characters here."""
    visit = Visit(request, token, via, back)
    target = visit.path + ("/done" if then else "") + visit.query()
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
