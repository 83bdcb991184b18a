"""综合点评 API (D2, D3, G1): the 12345 platform submits remarks (signed, idempotent by its own
number); officials list, read, route, answer, publish, close and export them in their scope."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from haochaping.access.principal import Permission, Principal
from haochaping.access.rules import Requires, Unmasker
from haochaping.audit.actions import AuditAction
from haochaping.audit.service import record
from haochaping.clock import BEIJING
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks import export, reading, service
from haochaping.remarks.models import RemarkSource, RemarkStatus
from haochaping.remarks.schemas import (
    AnswerIn,
    CloseIn,
    ContactOut,
    PublishIn,
    RemarkIn,
    RemarkOut,
    RemarkPage,
    RouteIn,
    SubmittedOut,
    UnmaskIn,
)
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep

router = APIRouter(tags=["综合点评 remarks"])

RemarksSubmitter = Annotated[Principal, Depends(Requires(Permission.remarks_submit))]
RemarksReader = Annotated[
    Principal, Depends(Requires(Permission.remarks_read, clients_allowed=False))
]
RemarksManager = Annotated[
    Principal, Depends(Requires(Permission.remarks_manage, clients_allowed=False))
]
RemarksAnswerer = Annotated[
    Principal, Depends(Requires(Permission.remarks_answer, clients_allowed=False))
]

RemarkNo = Annotated[str, Path(min_length=1, max_length=32, description="受理编号")]
XLSX = export.XLSX
STEP: dict[int | str, dict[str, Any]] = {
    404: {"description": "remark_not_found"},
    409: {"description": "remark_transition_illegal / remark_publishing_disabled"},
}


def _day(value: date | None, *, end: bool = False) -> datetime | None:
    """A Beijing calendar day as its first instant (or the next day's, for an end)."""
    if value is None:
        return None
    return datetime.combine(value + timedelta(days=1) if end else value, time(), BEIJING)


def filters_of(
    status: RemarkStatus | None = None,
    category: RemarkCategory | None = None,
    source: RemarkSource | None = None,
    region: Annotated[str | None, Query(max_length=12, description="行政区划（含下级）")] = None,
    org: Annotated[str | None, Query(max_length=64, description="承办机构代码")] = None,
    received_from: Annotated[date | None, Query(alias="from", description="收到日期起")] = None,
    received_to: Annotated[date | None, Query(alias="to", description="收到日期止（含）")] = None,
    overdue: Annotated[bool | None, Query(description="只看逾期 / 未逾期")] = None,
) -> reading.RemarkFilter:
    return reading.RemarkFilter(
        status=status,
        category=category,
        source=source,
        region_code=region or None,
        org_code=org or None,
        received_from=_day(received_from),
        received_before=_day(received_to, end=True),
        overdue=overdue,
    )


FiltersDep = Annotated[reading.RemarkFilter, Depends(filters_of)]


@router.post(
    "/remarks",
    response_model=SubmittedOut,
    status_code=201,
    summary="12345热线转来的综合点评（按平台工单编号幂等；重复提交返回原受理编号）",
    responses={409: {"description": "remark_external_id_reused"}},
)
def submit_remark(
    data: RemarkIn,
    response: Response,
    session: SessionDep,
    now: NowDep,
    caller: RemarksSubmitter,
) -> SubmittedOut:
    done = service.submit(
        session=session,
        region_code=data.region,
        text=data.text,
        source=RemarkSource.hotline,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        category=data.category,
        org_code=data.org_code,
        contact=data.contact,
        client_id=caller.id,
        external_id=data.external_id,
    )
    session.commit()
    if not done.created:
        response.status_code = 200
    return SubmittedOut(
        remark_no=done.remark.remark_no,
        query_code=done.query_code,
        status=RemarkStatus(done.remark.status),
        created=done.created,
    )


@router.get("/remarks", response_model=RemarkPage, summary="综合点评列表（本辖区）")
def list_remarks(
    session: SessionDep,
    now: NowDep,
    caller: RemarksReader,
    filters: FiltersDep,
    sort: Annotated[str, Query(max_length=20)] = "received_desc",
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> RemarkPage:
    total, items = reading.list_remarks(
        session=session,
        scope=caller.scope,
        filters=filters,
        now=now,
        page=page,
        page_size=page_size,
        sort=sort,
    )
    return RemarkPage(total=total, page=page, page_size=page_size, items=items)


@router.get(
    "/remarks.xlsx",
    summary="导出综合点评（xlsx；联系方式已脱敏，导出行为记入审计日志）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_remarks(
    session: SessionDep, now: NowDep, caller: RemarksReader, filters: FiltersDep
) -> Response:
    content, count = export.export_xlsx(
        session=session, filters=filters, scope=caller.scope, now=now
    )
    record(
        session,
        now=now,
        actor=caller.actor,
        action="export",
        target="remarks.xlsx",
        details={"rows": count, "filters": export.filters_for_audit(asdict(filters))},
        ip=caller.ip,
    )
    session.commit()
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{export.filename(now)}"'},
    )


@router.get("/remarks/{remark_no}", response_model=RemarkOut, summary="查看一条综合点评")
def read_remark(
    remark_no: RemarkNo, session: SessionDep, now: NowDep, caller: RemarksReader
) -> RemarkOut:
    return reading.get_remark(session=session, remark_no=remark_no, scope=caller.scope, now=now)


@router.post(
    "/remarks/{remark_no}/route",
    response_model=RemarkOut,
    summary="分类并转交承办单位（政务服务管理办公室）",
    responses=STEP,
)
def route_remark(
    remark_no: RemarkNo, data: RouteIn, session: SessionDep, now: NowDep, caller: RemarksManager
) -> RemarkOut:
    service.route(
        session=session,
        remark_no=remark_no,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        org_code=data.org_code,
        category=data.category,
        topic=data.topic,
        note=data.note,
    )
    session.commit()
    return reading.get_remark(session=session, remark_no=remark_no, scope=caller.scope, now=now)


@router.post(
    "/remarks/{remark_no}/answer",
    response_model=RemarkOut,
    summary="答复（承办单位或政务服务管理办公室）",
    responses=STEP,
)
def answer_remark(
    remark_no: RemarkNo, data: AnswerIn, session: SessionDep, now: NowDep, caller: RemarksAnswerer
) -> RemarkOut:
    service.answer(
        session=session,
        remark_no=remark_no,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        text=data.text,
    )
    session.commit()
    return reading.get_remark(session=session, remark_no=remark_no, scope=caller.scope, now=now)


@router.post(
    "/remarks/{remark_no}/publish",
    response_model=RemarkOut,
    summary="公开（按本地区政策；可删除或遮盖原文中的个人信息，不公开联系方式）",
    responses=STEP,
)
def publish_remark(
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    caller: RemarksManager,
    data: Annotated[PublishIn | None, Body()] = None,
) -> RemarkOut:
    service.publish(
        session=session,
        remark_no=remark_no,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        text=data.text if data else None,
        ip=caller.ip,
    )
    session.commit()
    return reading.get_remark(session=session, remark_no=remark_no, scope=caller.scope, now=now)


@router.post(
    "/remarks/{remark_no}/close",
    response_model=RemarkOut,
    summary="办结（不公开）",
    responses=STEP,
)
def close_remark(
    remark_no: RemarkNo,
    session: SessionDep,
    now: NowDep,
    caller: RemarksManager,
    data: Annotated[CloseIn | None, Body()] = None,
) -> RemarkOut:
    service.close(
        session=session,
        remark_no=remark_no,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        note=data.note if data else None,
    )
    session.commit()
    return reading.get_remark(session=session, remark_no=remark_no, scope=caller.scope, now=now)


@router.post(
    "/remarks/{remark_no}/contact/unmask",
    response_model=ContactOut,
    summary="查看留言人联系方式（须说明理由，全程留痕；C9）",
)
def unmask_contact(
    remark_no: RemarkNo, data: UnmaskIn, session: SessionDep, now: NowDep, caller: Unmasker
) -> ContactOut:
    """C9: the contact stays confidential; an authorised official may see it to call back."""
    remark, contact = reading.contact_in_clear(
        session=session, remark_no=remark_no, scope=caller.unmask_scope
    )
    record(
        session,
        now=now,
        actor=caller.actor,
        action=AuditAction.pii_unmasked,
        target=f"remark:{remark.remark_no}",
        details={"reason": data.reason, "fields": ["name", "phone", "email"]},
        ip=caller.ip,
    )
    session.commit()
    return contact
