"""Work-order endpoints (F1-F6): inbox, order page, steps, complaints, evidence, documents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, UploadFile
from fastapi.responses import Response

from haochaping.access.rules import ComplaintsIntake, WorkOrdersActor, WorkOrdersReader
from haochaping.clock import ensure_aware
from haochaping.errors import InvalidInput
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep
from haochaping.workorders import paperwork, service
from haochaping.workorders.documents import DOCX_MEDIA_TYPE
from haochaping.workorders.procedure import State
from haochaping.workorders.schemas import (
    ActionIn,
    AttachmentOut,
    ComplaintIn,
    OrderOut,
    OrderPage,
)

router = APIRouter(tags=["差评工单 work orders"])

OrderNo = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


@router.get(
    "/work-orders", response_model=OrderPage, summary="差评工单列表（待办、筛选、排序、分页）"
)
def list_orders(
    session: SessionDep,
    now: NowDep,
    caller: WorkOrdersReader,
    state: Annotated[list[State] | None, Query(description="状态，可多选")] = None,
    source: Literal["evaluation", "onsite", "hotline"] | None = None,
    org: Annotated[str | None, Query(max_length=50)] = None,
    window: Annotated[str | None, Query(max_length=50)] = None,
    staff: Annotated[str | None, Query(max_length=50)] = None,
    region: Annotated[str | None, Query(max_length=12)] = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    timing: Literal["due_soon", "overdue"] | None = None,
    due_within_hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24,
    mine: bool = False,
    escalated: bool = False,
    q: Annotated[str | None, Query(max_length=64, description="工单编号或办件编号")] = None,
    sort: Literal["received", "due", "no"] = "received",
    order: Literal["asc", "desc"] = "desc",
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> OrderPage:
    result = service.list_orders(
        session=session,
        principal=caller,
        now=now,
        filters=service.OrderFilter(
            states=[s.value for s in state or []],
            source=source,
            org_code=org,
            window_code=window,
            staff_code=staff,
            region_code=region,
            received_from=ensure_aware(date_from) if date_from else None,
            received_to=ensure_aware(date_to) if date_to else None,
            timing=timing,
            due_within=timedelta(hours=due_within_hours),
            mine=mine,
            escalated=escalated,
            query=q,
        ),
        sort=sort,
        descending=order == "desc",
        page=page,
        page_size=page_size,
    )
    session.commit()
    return result


@router.get("/work-orders/{order_no}", response_model=OrderOut, summary="差评工单详情与办理记录")
def get_order(
    order_no: OrderNo, session: SessionDep, now: NowDep, caller: WorkOrdersReader
) -> OrderOut:
    out = service.get_order(session=session, principal=caller, order_no=order_no, now=now)
    session.commit()
    return out


@router.post(
    "/work-orders/{order_no}/actions",
    response_model=OrderOut,
    summary="办理一个环节（按政策配置的流程，只能由该环节的责任方办理）",
    responses={
        403: {"description": "workorder_not_your_step"},
        409: {"description": "illegal_transition / workorder_stale"},
    },
)
def act(
    order_no: OrderNo, data: ActionIn, session: SessionDep, now: NowDep, caller: WorkOrdersActor
) -> OrderOut:
    out = service.perform(session=session, principal=caller, order_no=order_no, data=data, now=now)
    session.commit()
    return out


@router.post(
    "/work-orders/complaints",
    response_model=OrderOut,
    status_code=201,
    summary="登记现场投诉或12345热线转办件（可无办件编号）",
)
def register_complaint(
    data: ComplaintIn, session: SessionDep, now: NowDep, caller: ComplaintsIntake
) -> OrderOut:
    out = service.register_complaint(session=session, principal=caller, data=data, now=now)
    session.commit()
    return out


@router.post(
    "/work-orders/{order_no}/attachments",
    response_model=AttachmentOut,
    status_code=201,
    summary="上传佐证材料（照片、录音、视频、扫描件，5 MB 以内）",
)
async def upload(
    order_no: OrderNo,
    file: UploadFile,
    session: SessionDep,
    now: NowDep,
    caller: WorkOrdersActor,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> AttachmentOut:
    content = await file.read(service.MAX_ATTACHMENT_BYTES + 1)
    out = service.add_attachment(
        session=session,
        principal=caller,
        order_no=order_no,
        filename=file.filename or "file",
        content=content,
        note=note,
        now=now,
    )
    session.commit()
    return out


def _download(filename: str, media_type: str, content: bytes) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/work-orders/{order_no}/attachments/{attachment_id}",
    response_class=Response,
    summary="下载佐证材料",
)
def download_attachment(
    order_no: OrderNo,
    attachment_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    caller: WorkOrdersReader,
) -> Response:
    row = service.get_attachment(
        session=session, principal=caller, order_no=order_no, attachment_id=attachment_id
    )
    session.commit()
    return _download(row.filename, row.content_type, row.content)


@router.get(
    "/work-orders/{order_no}/documents/{kind}.docx",
    response_class=Response,
    summary="下载差评办件转办登记表（transfer）或调查整改报告（report），Word 格式",
)
def download_document(
    order_no: OrderNo,
    kind: str,
    session: SessionDep,
    caller: WorkOrdersReader,
) -> Response:
    if kind not in ("transfer", "report"):
        raise InvalidInput(
            "document_kind_unknown", "文书类型只能是 transfer 或 report", details={"kind": kind}
        )
    filename, content = paperwork.build(
        session=session,
        principal=caller,
        order_no=order_no,
        kind="transfer" if kind == "transfer" else "report",
    )
    session.commit()
    return _download(filename, DOCX_MEDIA_TYPE, content)
