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


def _sorted(rows: list[UnitMetrics], sort: str, order: Literal["asc", "desc"]) -> list[UnitMetrics]:
    def key(row: UnitMetrics) -> tuple[float, str]:
        value = {
            "evaluations": row.evaluations,
            "average": row.average,
            "bad_rate": row.bad_rate,
            "active_rate": row.active_rate,
            "coverage": row.coverage,
            "overdue": row.work_orders.overdue,
        }.get(sort)
        return (
            (-1.0 if value is None else float(value), row.code)
            if sort != "code"
            else (
                0.0,
                row.code,
            )
        )

    return sorted(rows, key=key, reverse=order == "desc")


SortParam = Literal[
    "code", "evaluations", "average", "bad_rate", "active_rate", "coverage", "overdue"
]


@router.get("/table", response_model=MetricsPage, summary="各统计单元的评价与工单指标")
def table(
    session: SessionDep,
    caller: StatisticsReader,
    selection: SelectionDep,
    sort: SortParam = "code",
    order: Literal["asc", "desc"] = "asc",
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> MetricsPage:
    rows = _sorted(service.table(session, caller.scope, selection), sort, order)
    start = (page - 1) * page_size
    return MetricsPage(
        dimension=selection.dimension,
        period=selection.period.code,
        period_label=selection.period.label,
        total=len(rows),
        page=page,
        page_size=page_size,
        items=rows[start : start + page_size],
    )


@router.get("/ranking", response_model=Ranking, summary="同组排名（最少评价数、修正得分）")
def ranking(session: SessionDep, caller: StatisticsReader, selection: SelectionDep) -> Ranking:
    return service.ranking(session, caller.scope, selection)


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
