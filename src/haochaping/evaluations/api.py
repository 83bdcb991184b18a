"""Evaluation endpoints: submit (idempotent), bulk, follow-up, list."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from haochaping.access.rules import EvaluationsExporter, EvaluationsReader, EvaluationsWriter
from haochaping.audit.service import record
from haochaping.clock import BEIJING, ensure_aware
from haochaping.errors import DomainError
from haochaping.evaluations import export, idempotency, service
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import (
    BulkIn,
    BulkOut,
    EvaluationIn,
    EvaluationOut,
    EvaluationPage,
    FollowUpIn,
    FollowUpOut,
)
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep

router = APIRouter(tags=["评价 evaluations"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=120)]


@router.post(
    "/evaluations",
    response_model=EvaluationOut,
    status_code=201,
    summary="提交评价（同一评价场次只能评价一次；支持 Idempotency-Key 重试）",
    responses={409: {"description": "already_evaluated"}},
)
def submit_evaluation(
    data: EvaluationIn,
    session: SessionDep,
    now: NowDep,
    caller: EvaluationsWriter,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    scope = caller.scope

    def work() -> idempotency.StoredAnswer:
        try:
            with session.begin_nested():
                out = service.submit(session=session, data=data, now=now, scope=scope)
        except DomainError as exc:
            return idempotency.StoredAnswer(exc.status_code, exc.as_dict())
        return idempotency.StoredAnswer(201, out.model_dump(mode="json"))

    if idempotency_key is None:
        # No answer to remember: a refusal simply leaves the transaction uncommitted.
        out = service.submit(session=session, data=data, now=now, scope=scope)
        session.commit()
        # Serialised by pydantic-core straight to JSON bytes (the hot path).
        return Response(out.model_dump_json(), status_code=201, media_type="application/json")
    payload = data.model_dump(mode="json")
    # Keys are the caller's own: another system's identical key never returns its answer.
    idempotency_key = f"{caller.actor}|{idempotency_key}"
    try:
        answer = idempotency.run_idempotent(
            session=session, key=idempotency_key, payload=payload, now=now, work=work
        )
        session.commit()
    except IntegrityError:
        # A twin request with the same key committed first: answer as it did.
        session.rollback()
        answer = idempotency.run_idempotent(
            session=session, key=idempotency_key, payload=payload, now=now, work=work
        )
        session.rollback()
    return JSONResponse(answer.body, status_code=answer.status_code)


@router.post(
    "/evaluations/bulk", response_model=BulkOut, summary="批量提交评价（逐条校验，逐条返回结果）"
)
def bulk_evaluations(
    data: BulkIn, session: SessionDep, now: NowDep, caller: EvaluationsWriter
) -> BulkOut:
    results = service.bulk_submit(session=session, items=data.items, now=now, scope=caller.scope)
    session.commit()
    accepted = sum(1 for r in results if r.accepted)
    return BulkOut(accepted=accepted, rejected=len(results) - accepted, results=results)


@router.post(
    "/evaluations/{evaluation_id}/follow-up",
    response_model=FollowUpOut,
    status_code=201,
    summary="追加评价（每条评价限一次）",
)
def add_follow_up(
    evaluation_id: RowId,
    data: FollowUpIn,
    session: SessionDep,
    now: NowDep,
    caller: EvaluationsWriter,
) -> FollowUpOut:
    row = service.follow_up(
        session=session, evaluation_id=evaluation_id, data=data, now=now, scope=caller.scope
    )
    session.commit()
    return FollowUpOut(
        text=row.text, label_codes=row.label_codes, channel=row.channel, created_at=row.created_at
    )


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut, summary="查询一条评价")
def read_evaluation(
    evaluation_id: RowId, session: SessionDep, caller: EvaluationsReader
) -> EvaluationOut:
    return service.get_evaluation(session=session, evaluation_id=evaluation_id, scope=caller.scope)


def evaluation_filters(
    case_no: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64, description="机构编码")] = None,
    region: Annotated[str | None, Query(max_length=12, description="行政区划（含下级）")] = None,
    staff: Annotated[str | None, Query(max_length=64, description="工作人员编号")] = None,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
    channel: Channel | None = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    is_default: bool | None = None,
    is_bad: bool | None = None,
) -> service.EvaluationFilter:
    return service.EvaluationFilter(
        case_no=case_no,
        org_code=org,
        region_code=region,
        staff_code=staff,
        level=level,
        channel=int(channel) if channel is not None else None,
        date_from=ensure_aware(date_from) if date_from else None,
        date_to=ensure_aware(date_to) if date_to else None,
        is_default=is_default,
        is_bad=is_bad,
    )


FiltersDep = Annotated[service.EvaluationFilter, Depends(evaluation_filters)]


@router.get("/evaluations", response_model=EvaluationPage, summary="评价列表（可筛选、分页）")
def list_evaluations(
    session: SessionDep,
    caller: EvaluationsReader,
    filters: FiltersDep,
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> EvaluationPage:
    total, items = service.list_evaluations(
        session=session, filters=filters, page=page, page_size=page_size, scope=caller.scope
    )
    return EvaluationPage(total=total, page=page, page_size=page_size, items=items)


@router.get(
    "/evaluations.xlsx",
    summary="导出评价明细（xlsx；申请人信息已脱敏，导出行为记入审计日志）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_evaluations(
    session: SessionDep, now: NowDep, caller: EvaluationsExporter, filters: FiltersDep
) -> Response:
    content, count = export.export_xlsx(
        session=session,
        filters=filters,
        scope=caller.scope,
        with_rater=caller.sees_identities,
    )
    record(
        session,
        now=now,
        actor=caller.actor,
        action="export",
        target="evaluations.xlsx",
        details={
            "rows": count,
            "filters": {k: v for k, v in asdict(filters).items() if v is not None},
        },
        ip=caller.ip,
    )
    session.commit()
    name = f"evaluations-{now.astimezone(BEIJING):%Y%m%d-%H%M%S}.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
