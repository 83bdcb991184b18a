"""Supervision statistics endpoints (issue 6): unit tables, rankings, focus lists, a unit's
overview, hot words, and each table as xlsx. Always inside the caller's scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from haochaping.access.rules import StatisticsReader
from haochaping.clock import local_date
from haochaping.statistics import export, hotwords, service
from haochaping.statistics.periods import Period, current_month, parse_period
from haochaping.statistics.schemas import (
    DIMENSION_NAMES,
    Dimension,
    FocusEntry,
    HotWord,
    Overview,
    Ranking,
    SortKey,
    UnitMetrics,
)
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep

router = APIRouter(prefix="/stats", tags=["统计分析 statistics"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_param(
    now: NowDep,
    period: Annotated[
        str | None,
        Query(
            max_length=20,
            description="统计周期：2026-10（月）、2026-Q4（季度）、2026（年）、2026-07..2026-10；"
            "默认本月",
        ),
    ] = None,
) -> Period:
    return parse_period(period) if period else current_month(local_date(now))


PeriodDep = Annotated[Period, Depends(period_param)]


def selection_param(
    period: PeriodDep,
    dimension: Dimension = Dimension.region,
    region: Annotated[
        str | None,
        Query(
            max_length=12, description="地区代码：地区维度列出其下级，其他维度列出其辖区内的单位"
        ),
    ] = None,
    org: Annotated[int | None, Query(ge=1, description="只看该部门的窗口或工作人员")] = None,
    window: Annotated[int | None, Query(ge=1, description="只看该窗口的工作人员")] = None,
    channel: Annotated[
        int | None, Query(ge=1, le=7, description="只看该渠道的主动评价（D5）")
    ] = None,
) -> service.Selection:
    return service.Selection(
        dimension=dimension,
        period=period,
        region=region,
        org_id=org,
        window_id=window,
        channel=channel,
    )


SelectionDep = Annotated[service.Selection, Depends(selection_param)]


class MetricsPage(BaseModel):
    dimension: Dimension
    period: str
    period_label: str
    total: int
    page: int
    page_size: int
    items: list[UnitMetrics]


@router.get("/table", response_model=MetricsPage, summary="各统计单元的评价与工单指标")
def table(
    session: SessionDep,
    caller: StatisticsReader,
    selection: SelectionDep,
    sort: SortKey = "code",
    order: Literal["asc", "desc"] = "asc",
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> MetricsPage:
    paging = service.Paging(page, page_size, sort, order == "desc")
    total, rows = service.table_page(session, caller.scope, selection, paging)
    return MetricsPage(
        dimension=selection.dimension,
        period=selection.period.code,
        period_label=selection.period.label,
        total=total,
        page=page,
        page_size=page_size,
        items=rows,
    )


@router.get("/ranking", response_model=Ranking, summary="同组排名（最少评价数、修正得分）")
def ranking(
    session: SessionDep,
    caller: StatisticsReader,
    selection: SelectionDep,
    page: PageDep = 1,
    page_size: Annotated[
        int | None, Query(ge=1, le=500, description="每页条数；不填返回全部")
    ] = None,
) -> Ranking:
    paging = service.Paging(page, page_size)
    return service.ranking(session, caller.scope, selection, paging=paging)


@router.get("/focus", response_model=list[FocusEntry], summary="重点关注对象（F6）")
def focus(
    session: SessionDep, caller: StatisticsReader, selection: SelectionDep
) -> list[FocusEntry]:
    return service.focus(session, caller.scope, selection)


@router.get("/overview", response_model=Overview, summary="单个统计单元：指标、趋势、渠道、标签")
def overview(
    session: SessionDep,
    caller: StatisticsReader,
    period: PeriodDep,
    dimension: Dimension = Dimension.region,
    key: Annotated[str | None, Query(max_length=40, description="统计单元键；默认本人辖区")] = None,
    channel: Annotated[int | None, Query(ge=1, le=7)] = None,
) -> Overview:
    return service.overview(session, caller.scope, dimension, key, period, channel=channel)


@router.get("/hot-words", response_model=list[HotWord], summary="差评内容热词（jieba 分词）")
def hot_words(
    session: SessionDep,
    caller: StatisticsReader,
    period: PeriodDep,
    dimension: Dimension = Dimension.region,
    key: Annotated[str | None, Query(max_length=40)] = None,
    top: Annotated[int, Query(ge=1, le=100)] = 30,
) -> list[HotWord]:
    unit = service.overview_unit(session, caller.scope, dimension, key)
    return hotwords.hot_words(session, caller.scope, unit, period, top=top)


@router.get(
    "/export.xlsx",
    summary="导出统计表（xlsx）：table 指标表、ranking 排名、focus 重点关注",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_xlsx(
    session: SessionDep,
    caller: StatisticsReader,
    selection: SelectionDep,
    kind: Literal["table", "ranking", "focus"] = "table",
) -> Response:
    title = f"{DIMENSION_NAMES[selection.dimension]}{selection.period.label}"
    if kind == "ranking":
        content = export.ranking_xlsx(
            title + "排名", service.ranking(session, caller.scope, selection).items
        )
    elif kind == "focus":
        content = export.focus_xlsx(
            title + "重点关注", service.focus(session, caller.scope, selection)
        )
    else:
        content = export.table_xlsx(title, service.table(session, caller.scope, selection))
    name = f"stats-{kind}-{selection.dimension.value}-{selection.period.code}.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
