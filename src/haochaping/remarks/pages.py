"""Console pages of 综合点评 (D2, D3, G1): the list with filters and xlsx export, the page where
the office classifies and routes a remark, the organisation answers it and the office publishes
or closes it, and the form where staff type in suggestion-box and book remarks. Contacts are
masked everywhere here (C9)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.principal import Permission
from haochaping.access.rules import Forbidden
from haochaping.audit.actions import AuditAction
from haochaping.audit.service import record
from haochaping.catalog.models import Organization, Region
from haochaping.clock import BEIJING
from haochaping.console.officials import Official, officials_with
from haochaping.console.pages import ConsoleRoute, templates
from haochaping.errors import DomainError, InvalidInput
from haochaping.policy import service as policy
from haochaping.policy.schemas import RemarkCategory
from haochaping.protection.ratelimit import RateLimit
from haochaping.remarks import export, reading, service
from haochaping.remarks.models import RemarkSource
from haochaping.remarks.procedure import STATUS_NAMES
from haochaping.remarks.schemas import (
    CATEGORY_NAMES,
    SOURCE_NAMES,
    TEXT_MAX,
    ContactIn,
    ContactOut,
    RemarkOut,
)
from haochaping.web import NowDep, SessionDep

BASE = "/console/remarks"
PAGE_SIZE = 20

router = APIRouter(
    prefix=BASE,
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)

RemarkNo = Annotated[str, Path(min_length=1, max_length=32)]
NOTICES = {
    "created": "已登记，受理编号 {no}。",
    "routed": "第 {no} 号意见建议已分类并转交承办单位。",
    "answered": "第 {no} 号意见建议已答复。",
    "published": "第 {no} 号意见建议及答复已公开。",
    "closed": "第 {no} 号意见建议已办结（不公开）。",
}


# A logged-in official allowed to read remarks; what they may do besides is checked per step.
_READERS = officials_with(
    "您没有查看综合点评的权限，如需使用请联系系统管理员", Permission.remarks_read
)
ReaderDep = Annotated[Official, Depends(_READERS.reader)]
FormDep = Annotated[Official, Depends(_READERS.form)]


def _require(who: Official, permission: Permission, what: str) -> None:
    if not who.principal.can(permission):
        raise Forbidden("forbidden", f"您没有{what}的权限")


def local(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _context(who: Official, **values: Any) -> dict[str, Any]:
    return {
        "user": who.user,
        "csrf_token": who.login.csrf_token,
        "local": local,
        "can_manage": who.principal.can(Permission.remarks_manage),
        "can_answer": who.principal.can(Permission.remarks_answer),
        "can_unmask": who.principal.can(Permission.pii_unmask),
        **values,
    }


Q = Annotated[str, Query(max_length=20)]


@router.get("/", response_class=HTMLResponse)
def remark_list(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: ReaderDep,
    status: Q = "",
    category: Q = "",
    source: Q = "",
    region: Q = "",
    org: Annotated[str, Query(max_length=64)] = "",
    received_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    received_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    overdue: Q = "",
    sort: Q = "received_desc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Q = "",
    no: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    filters = reading.filter_from_form(
        status, category, source, region, org, received_from, received_to, overdue
    )
    total, items = reading.list_remarks(
        session=session,
        scope=who.principal.scope,
        filters=filters,
        now=now,
        page=page,
        page_size=PAGE_SIZE,
        sort=sort,
    )
    query = {
        "status": status,
        "category": category,
        "source": source,
        "region": region,
        "org": org,
        "from": received_from,
        "to": received_to,
        "overdue": overdue,
        "sort": sort,
    }
    return templates.TemplateResponse(
        request,
        "remarks_list.html",
        _context(
            who,
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            q=query,
            qs=urlencode({k: v for k, v in query.items() if v}),
            statuses=STATUS_NAMES,
            categories=CATEGORY_NAMES,
            sources=SOURCE_NAMES,
            sorts=reading.SORTS,
            notice=NOTICES[done].format(no=no) if done in NOTICES and no else None,
        ),
    )


@router.get("/export.xlsx")
def remark_export(
    session: SessionDep,
    now: NowDep,
    who: ReaderDep,
    status: Q = "",
    category: Q = "",
    source: Q = "",
    region: Q = "",
    org: Annotated[str, Query(max_length=64)] = "",
    received_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    received_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    overdue: Q = "",
) -> Response:
    filters = reading.filter_from_form(
        status, category, source, region, org, received_from, received_to, overdue
    )
    content, count = export.export_xlsx(
        session=session, filters=filters, scope=who.principal.scope, now=now
    )
    record(
        session,
        now=now,
        actor=who.principal.actor,
        action="export",
        target="remarks.xlsx",
        details={"rows": count, "filters": export.filters_for_audit(asdict(filters))},
        ip=who.principal.ip,
    )
    session.commit()
    return Response(
        content,
        media_type=export.XLSX,
        headers={"Content-Disposition": f'attachment; filename="{export.filename(now)}"'},
    )


def _regions_in_scope(session: Session, who: Official) -> list[tuple[str, str]]:
    scope = who.principal.scope
    query = select(Region.code, Region.name).order_by(Region.path)
    if not scope.everything:
        query = query.where(Region.code.in_(scope.region_codes()))
    return [(code, name) for code, name in session.execute(query)]


def _orgs_in_scope(session: Session, who: Official) -> list[tuple[str, str]]:
    scope = who.principal.scope
    query = select(Organization.code, Organization.name).order_by(Organization.code)
    if not scope.everything:
        query = query.where(Organization.region_code.in_(scope.region_codes()))
    return [(code, name) for code, name in session.execute(query)]


def _new_page(
    request: Request,
    session: Session,
    who: Official,
    *,
    error: str | None = None,
    v: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "remarks_new.html",
        _context(
            who,
            regions=_regions_in_scope(session, who),
            orgs=_orgs_in_scope(session, who),
            categories=CATEGORY_NAMES,
            text_max=TEXT_MAX,
            error=error,
            v=v or {},
        ),
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse)
def new_form(request: Request, session: SessionDep, who: ReaderDep) -> Response:
    _require(who, Permission.remarks_manage, "登记意见箱（簿）意见建议")
    return _new_page(request, session, who)


Short = Annotated[str, Form(max_length=100)]


@router.post("/new", response_class=HTMLResponse)
def new_submit(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    source: Annotated[str, Form(max_length=10)] = "box",
    region: Annotated[str, Form(max_length=12)] = "",
    org: Short = "",
    category: Annotated[str, Form(max_length=20)] = "",
    text: Annotated[str, Form(max_length=TEXT_MAX * 2)] = "",
    name: Short = "",
    phone: Short = "",
    email: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _require(who, Permission.remarks_manage, "登记意见箱（簿）意见建议")
    values = dict(
        source=source,
        region=region,
        org=org,
        category=category,
        text=text,
        name=name,
        phone=phone,
        email=email,
    )
    try:
        if source not in (RemarkSource.box.value, RemarkSource.book.value):
            raise InvalidInput("remark_source_invalid", "请选择来源：意见箱或意见簿")
        if category and category not in CATEGORY_NAMES:
            raise InvalidInput("remark_category_invalid", "类别不正确，请重新选择")
        try:
            contact = ContactIn(name=name or None, phone=phone or None, email=email or None)
        except ValueError as exc:
            raise InvalidInput(
                "remark_contact_invalid", "联系电话或电子邮箱格式不正确，请核对后重新填写"
            ) from exc
        done = service.submit(
            session=session,
            region_code=region,
            text=text.replace("\r\n", "\n"),
            source=RemarkSource(source),
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            category=RemarkCategory(category) if category else None,
            org_code=org or None,
            contact=contact if (contact.name or contact.phone or contact.email) else None,
        )
    except DomainError as exc:
        session.rollback()
        return _new_page(
            request, session, who, error=exc.message, v=values, status_code=exc.status_code
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{done.remark.remark_no}?done=created", status_code=303)


def _detail(
    request: Request,
    session: Session,
    who: Official,
    remark: RemarkOut,
    *,
    error: str | None = None,
    notice: str | None = None,
    revealed: ContactOut | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    profile = policy.get_profile(name=remark.profile_name)
    return templates.TemplateResponse(
        request,
        "remarks_detail.html",
        _context(
            who,
            r=remark,
            orgs=_orgs_in_scope(session, who),
            categories=CATEGORY_NAMES,
            topics=profile.remarks.topic_names(),
            error=error,
            notice=notice,
            revealed=revealed,
        ),
        status_code=status_code,
    )


@router.get("/{remark_no}", response_class=HTMLResponse)
def remark_page(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: ReaderDep,
    done: Q = "",
) -> Response:
    remark = reading.get_remark(
        session=session, remark_no=remark_no, scope=who.principal.scope, now=now
    )
    notice = NOTICES[done].format(no=remark_no) if done in NOTICES else None
    return _detail(request, session, who, remark, notice=notice)


def _act(
    request: Request,
    session: Session,
    now: datetime,
    who: Official,
    remark_no: str,
    done: str,
    step: Any,
) -> Response:
    """Run one step; a refusal shows the remark again with the reason (nothing stored)."""
    try:
        step()
    except DomainError as exc:
        session.rollback()
        remark = reading.get_remark(
            session=session, remark_no=remark_no, scope=who.principal.scope, now=now
        )
        return _detail(
            request, session, who, remark, error=exc.message, status_code=exc.status_code
        )
    session.commit()
    return RedirectResponse(f"{BASE}/{remark_no}?done={done}", status_code=303)


@router.post("/{remark_no}/route")
def route_remark(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    org: Annotated[str, Form(max_length=64)] = "",
    category: Annotated[str, Form(max_length=20)] = "",
    topic: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _require(who, Permission.remarks_manage, "分类转交")

    def step() -> None:
        if not org:
            raise InvalidInput("remark_org_required", "请选择承办单位")
        if category not in CATEGORY_NAMES:
            raise InvalidInput("remark_category_invalid", "请选择类别")
        service.route(
            session=session,
            remark_no=remark_no,
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            org_code=org,
            category=RemarkCategory(category),
            topic=topic or None,
            note=note.strip() or None,
        )

    return _act(request, session, now, who, remark_no, "routed", step)


@router.post("/{remark_no}/answer")
def answer_remark(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    _require(who, Permission.remarks_answer, "答复")

    def step() -> None:
        service.answer(
            session=session,
            remark_no=remark_no,
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            text=text.replace("\r\n", "\n"),
        )

    return _act(request, session, now, who, remark_no, "answered", step)


@router.post("/{remark_no}/publish")
def publish_remark(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    text: Annotated[str, Form(max_length=TEXT_MAX * 2)] = "",
) -> Response:
    _require(who, Permission.remarks_manage, "公开")

    def step() -> None:
        service.publish(
            session=session,
            remark_no=remark_no,
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            text=text,
            ip=who.principal.ip,
        )

    return _act(request, session, now, who, remark_no, "published", step)


@router.post("/{remark_no}/close")
def close_remark(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _require(who, Permission.remarks_manage, "办结")

    def step() -> None:
        service.close(
            session=session,
            remark_no=remark_no,
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            note=note.strip() or None,
        )

    return _act(request, session, now, who, remark_no, "closed", step)


@router.post("/{remark_no}/contact", response_class=HTMLResponse)
def reveal_contact(
    request: Request,
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    who: FormDep,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """C9: the contact in clear for one answer page (never in a URL or a redirect), for an
    official holding ``pii:unmask`` over the remark, with a reason; recorded in the audit log."""
    _require(who, Permission.pii_unmask, "查看实名信息")
    remark = reading.get_remark(
        session=session, remark_no=remark_no, scope=who.principal.scope, now=now
    )
    if not reason.strip():
        return _detail(
            request, session, who, remark, error="请填写查看联系方式的理由", status_code=422
        )
    _, contact = reading.contact_in_clear(
        session=session, remark_no=remark_no, scope=who.principal.unmask_scope
    )
    record(
        session,
        now=now,
        actor=who.principal.actor,
        action=AuditAction.pii_unmasked,
        target=f"remark:{remark_no}",
        details={"reason": reason.strip(), "fields": ["name", "phone", "email"]},
        ip=who.principal.ip,
    )
    session.commit()
    return _detail(request, session, who, remark, revealed=contact)
