"""Text review endpoints (E1): list, read, approve, redact. Supervision offices only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from haochaping.access.rules import TextReviewer
from haochaping.clock import ensure_aware
from haochaping.textreview import service
from haochaping.textreview.models import ReviewStatus
from haochaping.textreview.schemas import ApproveIn, RedactIn, TextReviewOut, TextReviewPage
from haochaping.web import NowDep, PageDep, PageSizeDep, SessionDep

router = APIRouter(prefix="/text-reviews", tags=["差评文字审核 text reviews"])

ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1, description="审核编号")]
DECIDED: dict[int | str, dict[str, Any]] = {
    409: {"description": "text_review_decided"},
    404: {"description": "not found"},
}


@router.get("", response_model=TextReviewPage, summary="差评文字审核列表（按审核期限排序）")
def list_text_reviews(
    session: SessionDep,
    now: NowDep,
    caller: TextReviewer,
    status: ReviewStatus | None = None,
    region: Annotated[str | None, Query(max_length=12, description="行政区划（含下级）")] = None,
    due_before: Annotated[datetime | None, Query(description="审核期限早于")] = None,
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> TextReviewPage:
    filters = service.ReviewFilter(
        status=status,
        region_code=region,
        due_before=ensure_aware(due_before) if due_before else None,
    )
    total, items = service.list_reviews(
        session=session,
        scope=caller.scope,
        filters=filters,
        now=now,
        page=page,
        page_size=page_size,
    )
    return TextReviewPage(total=total, page=page, page_size=page_size, items=items)


@router.get("/{review_id}", response_model=TextReviewOut, summary="查看一条差评文字及脱敏建议")
def read_text_review(
    review_id: ReviewId, session: SessionDep, now: NowDep, caller: TextReviewer
) -> TextReviewOut:
    return service.get_review(session=session, review_id=review_id, scope=caller.scope, now=now)


@router.post(
    "/{review_id}/approve",
    response_model=TextReviewOut,
    summary="审核通过：按原文公开（不改变评价等级）",
    responses=DECIDED,
)
def approve_text_review(
    review_id: ReviewId,
    session: SessionDep,
    now: NowDep,
    caller: TextReviewer,
    data: Annotated[ApproveIn | None, Body()] = None,
) -> TextReviewOut:
    out = service.approve(
        session=session,
        review_id=review_id,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        ip=caller.ip,
        note=data.note if data else None,
    )
    session.commit()
    return out


@router.post(
    "/{review_id}/redact",
    response_model=TextReviewOut,
    summary="删改后通过：删除或用“*”遮盖个人信息和不文明用语，可去掉部分评价内容",
    responses=DECIDED,
)
def redact_text_review(
    review_id: ReviewId,
    data: RedactIn,
    session: SessionDep,
    now: NowDep,
    caller: TextReviewer,
) -> TextReviewOut:
    out = service.redact(
        session=session,
        review_id=review_id,
        actor=caller.actor,
        scope=caller.scope,
        now=now,
        text=data.text,
        label_codes=data.label_codes,
        ip=caller.ip,
        note=data.note,
    )
    session.commit()
    return out
