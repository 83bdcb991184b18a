"""Score endpoint (B2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from haochaping.access.rules import ScoresReader
from haochaping.clock import ensure_aware
from haochaping.scores import service
from haochaping.scores.schemas import Dimension, ScorePage
from haochaping.web import PageDep, PageSizeDep, SessionDep

router = APIRouter(tags=["得分 scores"])


@router.get(
    "/scores",
    response_model=ScorePage,
    summary="按工作人员、机构、业务条线、地区（含下级）或事项统计得分",
)
def scores(
    session: SessionDep,
    caller: ScoresReader,
    dimension: Dimension,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    region: Annotated[
        str | None, Query(max_length=12, description="只统计该地区（含下级）")
    ] = None,
    sort: Literal["average", "count", "code"] = "average",
    order: Literal["asc", "desc"] = "desc",
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> ScorePage:
    rows = service.compute_scores(
        session=session,
        dimension=dimension,
        date_from=ensure_aware(date_from) if date_from else None,
        date_to=ensure_aware(date_to) if date_to else None,
        region_code=region,
        access=caller.scope,
    )
    rows = service.sort_rows(rows, sort=sort, descending=order == "desc")
    start = (page - 1) * page_size
    return ScorePage(
        dimension=dimension,
        total=len(rows),
        page=page,
        page_size=page_size,
        items=rows[start : start + page_size],
    )
