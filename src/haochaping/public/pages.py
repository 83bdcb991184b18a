"""The public results pages (G1): results and rectifications of every region and organisation,
open to anyone, without a login and without cookies.

Every answer is a page in Chinese, refusals included (404 for an unknown region or organisation,
422 for a malformed period, 429 when rate limited), never JSON. A page carries
``Cache-Control: public, max-age=300`` and an ETag (a hash of its body); a request whose
``If-None-Match`` names it gets 304 with no body. Pages may be framed by government websites
(G1 asks for publication there), so no ``frame-ancestors`` restriction: they hold no form
that changes anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from haochaping.access.rules import Public
from haochaping.errors import DomainError
from haochaping.protection.ratelimit import RateLimit
from haochaping.public import reading
from haochaping.statistics.periods import Period
from haochaping.web import NowDep, SessionDep

PREFIX = "/public"
STATIC_PATH = "/public/static"
CACHE_CONTROL = "public, max-age=300"
# Refusals are cached briefly: an organisation added to the catalogue shows up soon.
ERROR_CACHE_CONTROL = "public, max-age=60"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["score"] = reading.format_score
templates.filters["share"] = reading.format_share
templates.globals["static"] = STATIC_PATH


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status_code)


def error_page(status_code: int, message: str) -> HTMLResponse:
    titles = {404: "页面不存在", 422: "查询条件有误", 429: "访问过于频繁"}
    response = render(
        "error.html",
        status_code,
        title=titles.get(status_code, "暂时无法显示"),
        message=message,
    )
    response.headers["Cache-Control"] = ERROR_CACHE_CONTROL if status_code < 429 else "no-store"
    return response


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


class PublicRoute(APIRoute):
    """Refusals as pages in Chinese; successful pages cacheable, with an ETag."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except DomainError as exc:
                response = error_page(exc.status_code, exc.message)
                response.headers.update(getattr(exc, "headers", None) or {})
            except RequestValidationError:
                response = error_page(422, "查询条件格式不正确，请检查后重试")
            if response.status_code == 200:
                etag = etag_of(bytes(response.body))
                if _matches(request.headers.get("if-none-match"), etag):
                    response = Response(status_code=304)
                response.headers["ETag"] = etag
                response.headers["Cache-Control"] = CACHE_CONTROL
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


router = APIRouter(
    prefix=PREFIX,
    route_class=PublicRoute,
    include_in_schema=False,
    dependencies=[
        Depends(Public("公开的评价结果与整改情况（G1），只含地区和部门的汇总数据，不含个人信息")),
        # Generous for people and for the caches in front; tight enough against scraping loops.
        Depends(RateLimit("public", "600/minute")),
    ],
)

PeriodQuery = Annotated[str, Query(max_length=40)]


def _context(period: Period, now: datetime, **values: Any) -> dict[str, Any]:
    return {"nav": reading.navigation(period, now), "period": period, **values}


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def index(session: SessionDep, now: NowDep, period: PeriodQuery = "") -> Response:
    chosen = reading.period_from(period, now)
    provinces = reading.index(session, chosen)
    return render("index.html", **_context(chosen, now, provinces=provinces, base=PREFIX + "/"))


@router.api_route("/regions/{code}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def region(code: str, session: SessionDep, now: NowDep, period: PeriodQuery = "") -> Response:
    found = reading.find_region(session, code)
    chosen = reading.period_from(period, now)
    page = reading.region_page(session, found, chosen)
    return render(
        "region.html",
        **_context(chosen, now, page=page, base=f"{PREFIX}/regions/{found.code}"),
        on_time_rate=reading.on_time_rate(page.figures),
    )


@router.api_route("/orgs/{ident}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def org(ident: str, session: SessionDep, now: NowDep, period: PeriodQuery = "") -> Response:
    found = reading.find_org(session, ident)
    chosen = reading.period_from(period, now)
    page = reading.org_page(session, found, chosen)
    return render(
        "org.html",
        **_context(chosen, now, page=page, base=f"{PREFIX}/orgs/{found.id}"),
        on_time_rate=reading.on_time_rate(page.figures),
    )
