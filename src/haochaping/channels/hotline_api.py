"""The 12345 hotline platform's endpoint (D3, D4): a caller's key-press rating of a case. The
platform calls as a signed business system, within the units it serves."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from haochaping.access.rules import EvaluationsWriter
from haochaping.channels import hotline
from haochaping.errors import DomainError
from haochaping.evaluations.schemas import EvaluationOut, Text
from haochaping.inputs import InputModel
from haochaping.web import NowDep, SessionDep

router = APIRouter(tags=["12345热线 hotline"])


class HotlineRatingIn(InputModel):
    case_no: str = Field(min_length=1, max_length=64)
    key: int = Field(ge=1, le=5, description="按键：5 非常满意 … 1 非常不满意")
    # What the caller said, when the platform records it: a bad review's reason (B6).
    text: Text | None = None


class HotlineRatingOut(BaseModel):
    evaluation: EvaluationOut
    # queued / opted_out / no_phone / link_closed: the text with the link to the detailed page.
    sms: str


@router.post(
    "/hotline/ratings",
    response_model=HotlineRatingOut,
    status_code=201,
    summary="12345热线按键评价（评价办件最近一个可评价的环节，随后短信发送详细评价链接）",
    responses={409: {"description": "already_evaluated"}},
)
def rate_by_key(
    data: HotlineRatingIn, session: SessionDep, now: NowDep, caller: EvaluationsWriter
) -> HotlineRatingOut:
    try:
        result = hotline.rate_by_key(
            session=session,
            case_no=data.case_no,
            key=data.key,
            text=data.text,
            scope=caller.scope,
            now=now,
        )
    except DomainError as exc:
        if exc.code == "bad_review_reason_required":
            # Nothing was rated, but the text asking for the reason is kept and sent.
            session.commit()
        raise
    session.commit()
    return HotlineRatingOut(evaluation=result.evaluation, sms=result.sms)
