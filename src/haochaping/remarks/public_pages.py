"""The citizens' pages of 综合点评 (D2, D3, G1, C9), under ``/public/remarks``: no login, no
cookie, no JavaScript. The form and the published list are cacheable like every public page;
the receipt and the status page (they carry the private query code's result) are ``no-store``.
The contact a citizen leaves is confidential (C9): it is never shown on any of these pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.rules import Public
from haochaping.access.scope import Scope
from haochaping.catalog.models import Organization, Region
from haochaping.clock import BEIJING
from haochaping.errors import DomainError, InvalidInput
from haochaping.policy.schemas import RemarkCategory
from haochaping.protection.ratelimit import RateLimit
from haochaping.public.pages import PublicRoute, render
from haochaping.remarks import reading, service
from haochaping.remarks.models import RemarkSource
from haochaping.remarks.schemas import CATEGORY_NAMES, TEXT_MAX, ContactIn
from haochaping.web import NowDep, SessionDep

PREFIX = "/public/remarks"
PAGE_SIZE = 20
# Levels a citizen picks from (townships and villages belong to their county's office).
FORM_LEVELS = ("province", "city", "county")
CONSENT = (
    "我同意政务服务管理部门和承办单位使用以上联系方式与我联系、答复本意见建议。"
    "联系方式依法保密，不在网上公开，未经本人同意不向第三方提供。"
)


def local(value: Any) -> str:
    """Beijing time for people: 2026年11月25日 10:00."""
    return value.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M") if value else ""


EMPTY_FORM: dict[str, Any] = {
    "region": "",
    "org": "",
    "category": "",
    "text": "",
    "name": "",
    "phone": "",
    "email": "",
    "consent": False,
}


class RemarksPublicRoute(PublicRoute):
    """The public pages' handling; answers to a form post are never cached."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response = await original(request)
            if request.method == "POST":
                response.headers["Cache-Control"] = "no-store"
                if "etag" in response.headers:
                    del response.headers["etag"]
            return response

        return handler


router = APIRouter(
    prefix=PREFIX,
    route_class=RemarksPublicRoute,
    include_in_schema=False,
    dependencies=[
        Depends(Public("综合点评：群众提交意见建议、凭回执查询办理结果、查看公开的答复（G1）")),
        Depends(RateLimit("public", "600/minute")),
    ],
)


def _regions(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Region.code, Region.name, Region.path)
        .where(Region.level.in_(FORM_LEVELS))
        .order_by(Region.path)
    ).all()
    return [(code, "　" * (path.count("/") - 2) + name) for code, name, path in rows]


def _orgs(session: Session) -> list[tuple[str, list[tuple[str, str]]]]:
    rows = session.execute(
        select(Organization.code, Organization.name, Region.name)
        .join(Region, Region.code == Organization.region_code)
        .order_by(Region.path, Organization.code)
    ).all()
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, name, region in rows:
        groups.setdefault(region, []).append((code, name))
    return list(groups.items())


def _form(session: Session, status_code: int = 200, **values: Any) -> HTMLResponse:
    context: dict[str, Any] = {
        "regions": _regions(session),
        "orgs": _orgs(session),
        "categories": CATEGORY_NAMES,
        "consent_text": CONSENT,
        "text_max": TEXT_MAX,
        "error": None,
    }
    context.update(values)
    context["v"] = {**EMPTY_FORM, **values.get("v", {})}
    return render("remarks_new.html", status_code, **context)


@router.api_route("/new", methods=["GET", "HEAD"], response_class=HTMLResponse)
def new_remark(session: SessionDep) -> Response:
    return _form(session)


Field = Annotated[str, Form(max_length=100)]


@router.post(
    "/new",
    response_class=HTMLResponse,
    dependencies=[
        # Per address: a person writes a few; a script is stopped (C9 data is cheap to spam).
        Depends(RateLimit("remark-submit", "10/minute")),
        Depends(RateLimit("remark-submit-day", "50/day")),
    ],
)
def submit_remark(
    session: SessionDep,
    now: NowDep,
    region: Annotated[str, Form(max_length=12)] = "",
    org: Field = "",
    category: Annotated[str, Form(max_length=20)] = "",
    text: Annotated[str, Form(max_length=TEXT_MAX * 2)] = "",
    name: Field = "",
    phone: Field = "",
    email: Annotated[str, Form(max_length=200)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {
        "region": region,
        "org": org,
        "category": category,
        "text": text,
        "name": name,
        "phone": phone,
        "email": email,
        "consent": bool(consent),
    }
    try:
        if not region:
            raise InvalidInput("remark_region_required", "请选择意见建议涉及的地区")
        if category not in CATEGORY_NAMES:
            raise InvalidInput("remark_category_required", "请选择意见建议的类别")
        try:
            contact = ContactIn(name=name or None, phone=phone or None, email=email or None)
        except ValidationError as exc:
            raise InvalidInput(
                "remark_contact_invalid", "联系电话或电子邮箱格式不正确，请核对后重新填写"
            ) from exc
        given = bool(contact.name or contact.phone or contact.email)
        if given and not consent:
            raise InvalidInput(
                "remark_consent_required",
                "留下联系方式的，请勾选同意使用联系方式联系您；不愿留联系方式的，请清空联系方式后提交",
            )
        done = service.submit(
            session=session,
            region_code=region,
            text=text.replace("\r\n", "\n"),
            source=RemarkSource.web,
            actor="public:web",
            scope=Scope.all(),
            now=now,
            category=RemarkCategory(category),
            org_code=org or None,
            contact=contact if given else None,
        )
    except DomainError as exc:
        session.rollback()
        return _form(session, exc.status_code, error=exc.message, v=values)
    session.commit()
    return render(
        "remarks_receipt.html",
        remark_no=done.remark.remark_no,
        query_code=done.query_code,
        due_at=done.remark.due_at,
        local=local,
    )


@router.api_route("/query", methods=["GET", "HEAD"], response_class=HTMLResponse)
def query_form() -> Response:
    return render("remarks_query.html", error=None, remark_no="", status=None, local=local)


@router.post(
    "/query",
    response_class=HTMLResponse,
    dependencies=[Depends(RateLimit("remark-query", "20/minute"))],
)
def query_status(
    session: SessionDep,
    remark_no: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        status = reading.public_status(session=session, remark_no=remark_no, code=code)
    except DomainError as exc:
        return render(
            "remarks_query.html",
            exc.status_code,
            error=exc.message,
            remark_no=remark_no,
            status=None,
            local=local,
        )
    return render(
        "remarks_query.html", error=None, remark_no=status.remark_no, status=status, local=local
    )


@router.api_route("", methods=["GET", "HEAD"], response_class=HTMLResponse)
def published_list(
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    region: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    total, items = reading.published(
        session=session, page=page, page_size=PAGE_SIZE, region_code=region or None
    )
    return render(
        "remarks_list.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        region=region,
        local=local,
    )
