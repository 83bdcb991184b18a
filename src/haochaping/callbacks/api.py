"""监督查评 endpoints (D2, ZZ): draw samples, record callbacks, reveal a phone to call, read
the findings. Supervision offices (``callbacks:manage``) only; never business systems."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from haochaping.access.principal import Permission, Principal
from haochaping.access.rules import Requires
from haochaping.callbacks import findings, reading, sampling, service
from haochaping.callbacks.schemas import (
    DenialPage,
    DrawIn,
    ItemOut,
    OutcomeIn,
    RevealOut,
    SampleOut,
    SamplePage,
    SummaryOut,
)
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep

router = APIRouter(prefix="/callbacks", tags=["监督查评 callbacks"])

CallbacksManager = Annotated[
    Principal, Depends(Requires(Permission.callbacks_manage, clients_allowed=False))
]
SampleId = Annotated[int, Path(ge=1, le=2**31 - 1, description="抽查样本编号")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="回访记录编号")]
Region = Annotated[str | None, Query(max_length=12, description="行政区划（含下级）")]
From = Annotated[date | None, Query(alias="from", description="评价日期起（含，北京时间）")]
To = Annotated[date | None, Query(alias="to", description="评价日期止（含，北京时间）")]
Sample = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="只看某个样本")]
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "out_of_scope / forbidden"},
    404: {"description": "not found"},
    409: {"description": "callback_outcome_recorded / callback_draw_conflict"},
}


@router.post(
    "/samples",
    response_model=SampleOut,
    status_code=201,
    summary="抽取回访样本（随机抽取近期评价，报告符合条件的评价数）",
    responses=REFUSALS,
)
def create_sample(
    data: DrawIn, session: SessionDep, now: NowDep, caller: CallbacksManager
) -> SampleOut:
    out = sampling.draw_sample(
        session=session,
        scope=caller.scope,
        actor=caller.actor,
        now=now,
        params=sampling.DrawParams(
            region_code=data.region,
            size=data.size,
            date_from=data.date_from,
            date_to=data.date_to,
            org_code=data.org,
            staff_code=data.staff,
            channel=data.channel,
            note=data.note,
        ),
    )
    session.commit()
    return out


@router.get("/samples", response_model=SamplePage, summary="抽查样本列表（新抽取的在前）")
def list_samples(
    session: SessionDep,
    caller: CallbacksManager,
    page: PageDep = 1,
    page_size: PageSizeDep = 20,
) -> SamplePage:
    total, items = reading.list_samples(
        session=session, scope=caller.scope, page=page, page_size=page_size
    )
    return SamplePage(total=total, page=page, page_size=page_size, items=items)


@router.get(
    "/samples/{sample_id}",
    response_model=SampleOut,
    summary="查看抽查样本及回访情况（联系电话已脱敏）",
)
def read_sample(sample_id: SampleId, session: SessionDep, caller: CallbacksManager) -> SampleOut:
    return reading.get_sample(session=session, sample_id=sample_id, scope=caller.scope)


@router.post(
    "/items/{item_id}/outcome",
    response_model=ItemOut,
    summary="登记一次回访：未接通、确认属实、否认评价或多次联系未果；更正须说明理由",
    responses=REFUSALS,
)
def record_outcome(
    item_id: ItemId, data: OutcomeIn, session: SessionDep, now: NowDep, caller: CallbacksManager
) -> ItemOut:
    out = service.record_call(
        session=session,
        item_id=item_id,
        scope=caller.scope,
        actor=caller.actor,
        now=now,
        result=data.result,
        stated_level=data.stated_level,
        note=data.note,
        reason=data.reason,
    )
    session.commit()
    return out


@router.post(
    "/items/{item_id}/reveal",
    response_model=RevealOut,
    summary="查看评价人联系电话以便回访（记入审计日志）",
    responses=REFUSALS,
)
def reveal_phone(
    item_id: ItemId, session: SessionDep, now: NowDep, caller: CallbacksManager
) -> RevealOut:
    out = service.reveal_phone(
        session=session,
        item_id=item_id,
        scope=caller.scope,
        actor=caller.actor,
        now=now,
        ip=caller.ip,
    )
    session.commit()
    return out


@router.get(
    "/summary",
    response_model=SummaryOut,
    summary="回访结果汇总：按机构、工作人员、评价渠道统计确认、否认、联系未果及否认率",
)
def callback_summary(
    session: SessionDep,
    caller: CallbacksManager,
    region: Region = None,
    date_from: From = None,
    date_to: To = None,
    sample: Sample = None,
) -> SummaryOut:
    return findings.summary(
        session=session,
        scope=caller.scope,
        filters=findings.FindingFilter(region, date_from, date_to, sample),
    )


@router.get(
    "/denials",
    response_model=DenialPage,
    summary="评价人否认作出评价的记录（供刷评核查）",
)
def callback_denials(
    session: SessionDep,
    caller: CallbacksManager,
    region: Region = None,
    date_from: From = None,
    date_to: To = None,
    sample: Sample = None,
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> DenialPage:
    total, items = findings.denials(
        session=session,
        scope=caller.scope,
        filters=findings.FindingFilter(region, date_from, date_to, sample),
        page=page,
        page_size=page_size,
    )
    return DenialPage(total=total, page=page, page_size=page_size, items=items)
